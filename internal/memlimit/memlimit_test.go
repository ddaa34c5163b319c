package memlimit

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/require"
)

func TestContainerLimit(t *testing.T) {
	root := t.TempDir()
	write := func(rel, v string) {
		p := filepath.Join(root, rel)
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(v+"\n"), 0o644))
	}
	// cgroup v1 (this machine's layout), a 512 MiB limit on our group.
	write("memory/process_api/abc/memory.limit_in_bytes", "536870912")
	n, ok, err := ContainerLimit(root, "9:name=systemd:/\n4:memory:/process_api/abc\n0::/\n")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(512<<20), n)

	// v1 without a limit: a page-rounded MaxInt64.
	write("memory/free/memory.limit_in_bytes", "9223372036854771712")
	_, ok, err = ContainerLimit(root, "4:memory:/free\n")
	require.NoError(t, err)
	require.False(t, ok)

	// cgroup v2: memory.max under the group's path, "max" for none.
	write("kubepods/pod1/memory.max", "268435456")
	n, ok, err = ContainerLimit(root, "0::/kubepods/pod1\n")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(256<<20), n)
	write("unbounded/memory.max", "max")
	_, ok, err = ContainerLimit(root, "0::/unbounded\n")
	require.NoError(t, err)
	require.False(t, ok)

	// Inside a container, /proc/self/cgroup names a path that is mounted
	// as the root: the limit is read there.
	write("memory.max", "1073741824")
	n, ok, err = ContainerLimit(root, "0::/some/host/path\n")
	require.NoError(t, err)
	require.True(t, ok)
	require.Equal(t, int64(1<<30), n)
}
