package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/chatwarden/chatwarden/store"
)

// maxListed bounds the lines salvage prints per list; the rest are counted.
const maxListed = 20

func cmdSalvage(args []string, stdout, stderr io.Writer) error {
	fs := newFlags("salvage", "--db DAMAGED --out NEW", stderr)
	db := fs.String("db", "", "the damaged database `file`, read only (required)")
	out := fs.String("out", "", "the new database `file` to write; must not exist (required)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if *db == "" || *out == "" {
		return usagef("--db and --out are required")
	}
	rep, err := store.Salvage(context.Background(), *db, *out)
	if errors.Is(err, store.ErrLocked) {
		return fmt.Errorf("%w\n(stop the bot first: salvage reads a file nothing writes to)", err)
	}
	if err != nil {
		return err
	}
	printSalvage(stdout, rep)
	if !rep.Complete() {
		return fmt.Errorf("%s could not be read in full: %s holds everything else (see above); check it with chatwarden verify --db %s", *db, *out, *out)
	}
	return nil
}

func printSalvage(w io.Writer, r *store.SalvageReport) {
	fmt.Fprintf(w, "read %s: %d pages of %d bytes (meta page %d)\n", r.Source, r.Pages, r.PageSize, r.MetaPage)
	fmt.Fprintf(w, "wrote %s: %d records of %d communities, %d settings, %d cursors, %d KV entries, %d bridges of purged records, %d pending log deliveries\n",
		r.Out, r.Records, len(r.Communities), r.Settings, r.Cursors, r.KV, r.Bridges, r.Outbox)
	if r.OrphanPages > 0 {
		fmt.Fprintf(w, "%d leaf pages cut off from the tree by a damaged page were read too\n", r.OrphanPages)
	}
	if len(r.Damaged) > 0 {
		fmt.Fprintf(w, "\ncould not read %d %s:\n", len(r.Damaged), plural(len(r.Damaged), "page", "pages"))
		lost := map[store.DamagedPage]bool{}
		for _, d := range r.Lost() {
			lost[d] = true
		}
		for i, d := range r.Damaged {
			if i == maxListed {
				fmt.Fprintf(w, "  … and %d more\n", len(r.Damaged)-i)
				break
			}
			note := ""
			switch {
			case lost[d]:
			case d.Bucket == "(meta)" || d.Bucket == "(freelist)":
				note = " (nothing lost)"
			default:
				note = " (an index: rebuilt from the records, nothing lost)"
			}
			fmt.Fprintf(w, "  %s%s\n", d, note)
		}
		if r.EarlierCommit {
			fmt.Fprintln(w, "  the newest meta page may be the damaged one: the file was read as of the commit before; the last commit's records were looked for, its other changes (settings, state) are lost")
		}
		if r.NoFreelist != "" {
			fmt.Fprintf(w, "  leaves cut off from the tree were not searched: %s\n", r.NoFreelist)
		}
	}
	if len(r.BadRecords) > 0 {
		fmt.Fprintf(w, "\n%d %s found but not copied:\n", len(r.BadRecords), plural(len(r.BadRecords), "record", "records"))
		for i, b := range r.BadRecords {
			if i == maxListed {
				fmt.Fprintf(w, "  … and %d more\n", len(r.BadRecords)-i)
				break
			}
			seq := ""
			if b.Seq != 0 {
				seq = fmt.Sprintf(" seq %d", b.Seq)
			}
			fmt.Fprintf(w, "  page %d, record%s: %s\n", b.Page, seq, b.Problem)
		}
	}
	if len(r.Unattributed) > 0 {
		nums := make([]uint32, 0, len(r.Unattributed))
		for n := range r.Unattributed {
			nums = append(nums, n)
		}
		sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
		fmt.Fprintln(w, "\nrecords not copied because the entries naming their community are lost:")
		for _, n := range nums {
			fmt.Fprintf(w, "  %d records of community number %d\n", r.Unattributed[n], n)
		}
	}
	if r.LostSettings > 0 {
		fmt.Fprintf(w, "\n%d communities' settings no longer parse and were not copied: they start from the defaults\n", r.LostSettings)
	}
	fmt.Fprintln(w, "\ncommunities in the copy:")
	for _, c := range r.Communities {
		switch {
		case c.Expected > c.Records:
			fmt.Fprintf(w, "  %s:%s  %d of %d records (%d lost)\n", c.Platform, c.ID, c.Records, c.Expected, c.Expected-c.Records)
		case c.Expected == 0 && c.Records > 0:
			fmt.Fprintf(w, "  %s:%s  %d records (the count it had is lost)\n", c.Platform, c.ID, c.Records)
		default:
			fmt.Fprintf(w, "  %s:%s  all %d records\n", c.Platform, c.ID, c.Records)
		}
		for _, g := range c.Gaps {
			fmt.Fprintf(w, "    %s\n", g)
		}
		if c.Problem != "" {
			fmt.Fprintf(w, "    %s\n", c.Problem)
		}
	}
}
