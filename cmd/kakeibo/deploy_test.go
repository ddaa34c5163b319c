package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
	"gopkg.in/yaml.v3"
)

// TestDeployFiles reads the shipped Kubernetes and ECS files and the
// Dockerfile (docker build is out of reach here) and checks what makes them
// work as shipped: health checks on /readyz, a non-root user, a writable
// data volume, a hardened container, a pinned image.
func TestDeployFiles(t *testing.T) {
	t.Run("kubernetes", func(t *testing.T) {
		b, err := os.ReadFile("../../deploy/kubernetes/kakeibo.yaml")
		require.NoError(t, err)
		docs := map[string]map[string]any{}
		dec := yaml.NewDecoder(bytes.NewReader(b))
		for {
			var d map[string]any
			if err := dec.Decode(&d); errors.Is(err, io.EOF) {
				break
			} else {
				require.NoError(t, err)
			}
			meta := d["metadata"].(map[string]any)
			docs[d["kind"].(string)+"/"+meta["name"].(string)] = d
		}
		get := func(v any, path ...any) any {
			for _, p := range path {
				switch k := p.(type) {
				case string:
					v = v.(map[string]any)[k]
				case int:
					v = v.([]any)[k]
				}
			}
			return v
		}
		sts := docs["StatefulSet/kakeibo"]
		require.NotNil(t, sts)
		svcName := get(sts, "spec", "serviceName").(string)
		require.Equal(t, "None", get(docs["Service/"+svcName], "spec", "clusterIP"), "the governing Service is headless")
		pod := get(sts, "spec", "template", "spec")
		require.Equal(t, true, get(pod, "securityContext", "runAsNonRoot"))
		require.Equal(t, 65532, get(pod, "securityContext", "runAsUser"))
		require.Equal(t, 65532, get(pod, "securityContext", "fsGroup"), "the data volume is writable by nonroot")
		c := get(pod, "containers", 0)
		require.Regexp(t, `:v\d+\.\d+\.\d+$`, get(c, "image"), "a pinned image")
		require.Equal(t, true, get(c, "securityContext", "readOnlyRootFilesystem"))
		require.Equal(t, false, get(c, "securityContext", "allowPrivilegeEscalation"))
		require.Equal(t, []any{"ALL"}, get(c, "securityContext", "capabilities", "drop"))
		require.Equal(t, "/readyz", get(c, "readinessProbe", "httpGet", "path"))
		require.Equal(t, "/healthz", get(c, "livenessProbe", "httpGet", "path"))
		require.NotNil(t, get(c, "resources", "requests", "memory"))
		require.NotNil(t, get(c, "resources", "limits", "memory"))
		mounts := map[string]string{}
		for _, m := range get(c, "volumeMounts").([]any) {
			mounts[get(m, "mountPath").(string)] = get(m, "name").(string)
		}
		require.Equal(t, "data", mounts["/data"])
		require.Contains(t, mounts, "/tmp", "a writable /tmp beside the read-only root")
		require.NotNil(t, docs["PodDisruptionBudget/kakeibo"])
	})
	t.Run("ecs", func(t *testing.T) {
		b, err := os.ReadFile("../../deploy/ecs/task-definition.json")
		require.NoError(t, err)
		var td struct {
			ContainerDefinitions []struct {
				Image       string `json:"image"`
				User        string `json:"user"`
				ReadOnly    bool   `json:"readonlyRootFilesystem"`
				HealthCheck struct {
					Command []string `json:"command"`
				} `json:"healthCheck"`
				MountPoints []struct{ SourceVolume, ContainerPath string } `json:"mountPoints"`
			} `json:"containerDefinitions"`
			Volumes []struct {
				Name string `json:"name"`
				EFS  struct {
					Auth struct {
						AccessPointID string `json:"accessPointId"`
					} `json:"authorizationConfig"`
				} `json:"efsVolumeConfiguration"`
			} `json:"volumes"`
		}
		require.NoError(t, json.Unmarshal(b, &td))
		c := td.ContainerDefinitions[0]
		require.Equal(t, []string{"CMD", "/usr/local/bin/kakeibo", "healthcheck", "--url", "http://127.0.0.1:8080/readyz"}, c.HealthCheck.Command)
		require.Equal(t, "65532:65532", c.User)
		require.True(t, c.ReadOnly)
		require.NotContains(t, c.Image, ":latest")
		for _, v := range td.Volumes {
			if v.Name == "data" {
				require.NotEmpty(t, v.EFS.Auth.AccessPointID, "an EFS access point gives nonroot its directory")
			}
		}
	})
	t.Run("dockerfile", func(t *testing.T) {
		b, err := os.ReadFile("../../Dockerfile")
		require.NoError(t, err)
		df := string(b)
		require.Regexp(t, regexp.MustCompile(`(?m)^COPY --from=build --chown=65532:65532 \S+ /data$`), df, "/data owned by nonroot")
		require.Regexp(t, regexp.MustCompile(`(?m)^HEALTHCHECK .*"healthcheck"`), df)
		require.Regexp(t, regexp.MustCompile(`(?m)^USER nonroot`), df)
		require.True(t, strings.Index(df, "COPY --from=build --chown=65532:65532") < strings.Index(df, "VOLUME /data"), "the directory exists before VOLUME declares it")
	})
}

func TestHealthcheck(t *testing.T) {
	ready := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !ready {
			http.Error(w, "not ready: backfilling", http.StatusServiceUnavailable)
			return
		}
		_, _ = w.Write([]byte("ready\n"))
	}))
	defer srv.Close()
	code, _, errOut := kakeibo(t, nil, "healthcheck", "--url", srv.URL+"/readyz")
	require.Equal(t, exitOK, code, errOut)
	ready = false
	code, _, errOut = kakeibo(t, nil, "healthcheck", "--url", srv.URL+"/readyz")
	require.Equal(t, exitFail, code)
	require.Contains(t, errOut, "503")
	srv.Close()
	code, _, _ = kakeibo(t, nil, "healthcheck", "--url", srv.URL+"/readyz")
	require.Equal(t, exitFail, code)
}
