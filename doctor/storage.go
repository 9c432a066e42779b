package doctor

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// MinFree is the least free space the store's filesystem needs: below it
// a burst of events or a backup may fill the disk, and bbolt then fails
// every commit.
const MinFree = 256 << 20

// Storage checks the database file at path: that its folder and file are
// writable, the free disk space, the database's size, and when the next
// retention purge runs (the bot purges at start and every 24 hours;
// lastPurge is zero when not known, as from the command line).
func Storage(path string, retentionDays int, lastPurge time.Time) Section {
	s := Section{Platform: "storage", Name: path}
	dir := filepath.Dir(path)
	if err := writable(dir, path); err != nil {
		s.Fail("store path writable", err.Error(),
			fmt.Sprintf("Create %s and give the user chatwarden runs as write access to it (storage.path).", dir))
	} else {
		s.Pass("store path writable", dir)
	}
	var size int64
	if fi, err := os.Stat(path); err == nil {
		size = fi.Size()
		s.Pass("database size", Bytes(uint64(size)))
	} else {
		s.Pass("database size", "no database yet: it is created at the first start")
	}
	switch free, err := DiskFree(dir); {
	case err != nil:
		s.Warn("free disk space", "unknown", "Check the free space of "+dir+" by hand.")
	case free < MinFree:
		s.Fail("free disk space", Bytes(free)+" free",
			fmt.Sprintf("Free at least %s on the disk holding %s, or lower storage.retention_days.", Bytes(MinFree), dir))
	case free < uint64(size):
		s.Warn("free disk space", Bytes(free)+" free, less than the database",
			"Free more space than the database takes, so that a backup or compaction fits.")
	default:
		s.Pass("free disk space", Bytes(free)+" free")
	}
	switch {
	case retentionDays <= 0:
		s.Pass("next retention purge", "none: storage.retention_days is 0, records are kept forever")
	case lastPurge.IsZero():
		s.Pass("next retention purge", fmt.Sprintf("records older than %d days are purged when the bot starts and every 24 hours after", retentionDays))
	default:
		s.Pass("next retention purge", fmt.Sprintf("%s (records older than %d days)",
			lastPurge.Add(24*time.Hour).UTC().Format(time.RFC3339), retentionDays))
	}
	return s
}

// writable checks that dir exists and takes new files, and that the file
// at path, if it exists, may be written.
func writable(dir, path string) error {
	f, err := os.CreateTemp(dir, ".chatwarden-doctor-*")
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%s does not exist", dir)
		}
		return fmt.Errorf("%s does not take new files", dir)
	}
	name := f.Name()
	f.Close()
	os.Remove(name)
	db, err := os.OpenFile(path, os.O_WRONLY, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("%s is not writable", path)
	}
	return db.Close()
}

// Bytes formats a size in binary units: "512 B", "1.5 GiB".
func Bytes(n uint64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := uint64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
