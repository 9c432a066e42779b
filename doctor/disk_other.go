//go:build !unix

package doctor

import "errors"

// DiskFree is not implemented on this system.
func DiskFree(dir string) (uint64, error) {
	return 0, errors.New("free disk space is not known on this system")
}
