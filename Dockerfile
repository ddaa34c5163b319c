# kakeibo: a static binary on a distroless base, running as non-root.
# docker build -t kakeibo . && docker run -p 8080:8080 -v kakeibo-data:/data kakeibo serve --specs /specs ...
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kakeibo ./cmd/kakeibo
# The data directory, owned by nonroot (65532): a named volume or an EFS
# mount without an access point starts from this, writable.
RUN mkdir -p /out/data && chown 65532:65532 /out/data && chmod 0750 /out/data

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kakeibo /usr/local/bin/kakeibo
COPY --from=build --chown=65532:65532 /out/data /data
# Time zones are embedded in the binary (time/tzdata); CA certificates come with the base.
USER nonroot:nonroot
VOLUME /data
EXPOSE 8080
ENV KAKEIBO_DATA_DIR=/data KAKEIBO_LISTEN=:8080
HEALTHCHECK --interval=30s --timeout=5s --start-period=10m --retries=3 CMD ["/usr/local/bin/kakeibo", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"]
ENTRYPOINT ["/usr/local/bin/kakeibo"]
CMD ["serve"]
