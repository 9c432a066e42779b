//go:build unix

package doctor

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// DiskFree returns the bytes an unprivileged process may still write on
// the filesystem holding dir.
func DiskFree(dir string) (uint64, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(dir, &st); err != nil {
		return 0, fmt.Errorf("free space of %s: %w", dir, err)
	}
	return uint64(st.Bavail) * uint64(st.Bsize), nil //nolint:unconvert // field types differ by OS
}
