package doctor

import (
	"fmt"
	"io/fs"
	"os"
	"runtime"
)

// Exposed returns the permission bits of the file at path when users
// other than its owner may read it (group or others have read access).
// A missing file, or a system without Unix modes, is not exposed.
func Exposed(path string) (fs.FileMode, bool) {
	if path == "" || runtime.GOOS == "windows" {
		return 0, false
	}
	fi, err := os.Stat(path)
	if err != nil {
		return 0, false
	}
	mode := fi.Mode().Perm()
	return mode, mode&0o044 != 0
}

// Permissions checks that the config file and the database, which may
// hold tokens and message text, are readable by their owner only. An
// exposed file is an advisory failure: the bot runs, but should not.
func Permissions(configPath, dbPath string) Section {
	s := Section{Platform: "storage", Name: "file permissions"}
	for _, f := range []struct{ what, path string }{{"config file private", configPath}, {"database private", dbPath}} {
		if f.path == "" {
			continue
		}
		if mode, ok := Exposed(f.path); ok {
			s.Warn(f.what, fmt.Sprintf("%s is %s: other users may read it", f.path, mode),
				fmt.Sprintf("Run chmod 600 %s (and keep its folder closed to other users).", f.path))
		} else {
			s.Pass(f.what, f.path)
		}
	}
	return s
}
