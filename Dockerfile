# kakeibo: a static binary on a distroless base, running as non-root.
# docker build -t kakeibo . && docker run -p 8080:8080 -v kakeibo-data:/data kakeibo serve --specs /specs ...
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY . .
ARG VERSION=dev
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w -X main.version=${VERSION}" -o /out/kakeibo ./cmd/kakeibo

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/kakeibo /usr/local/bin/kakeibo
# Time zones are embedded in the binary (time/tzdata); CA certificates come with the base.
USER nonroot:nonroot
VOLUME /data
EXPOSE 8080
ENV KAKEIBO_DATA_DIR=/data KAKEIBO_LISTEN=:8080
ENTRYPOINT ["/usr/local/bin/kakeibo"]
CMD ["serve"]
