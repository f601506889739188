package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"strings"

	"github.com/rekey-dev/rekey/store/dbcopy"
	"github.com/rekey-dev/rekey/store/postgres"
	"github.com/rekey-dev/rekey/store/sqlite"
)

const dbHelp = `Usage: rekey db copy --from SOURCE --to DESTINATION [--force]

Copies a whole installation from one database to another: every workspace,
endpoint, deployment, account, key, usage count, operation, the change
feed, the admin principal, service principals, signing keys, custom role
definitions, role assignments, the audit log and settings.
SOURCE and DESTINATION are each a SQLite file (a data directory's rekey.db)
or a PostgreSQL URL (postgres://user:password@host:5432/db).

Keys are copied sealed, as they are: the destination needs the same master
key (REKEY_MASTER_KEY, or master.key from the data directory) as the
source, and refuses to start with another. The source is read in one
transaction and the destination written in one, so a failed copy leaves
it as it was; then every table is counted on both sides.

The destination must be empty (a new database, or one rekey only migrated);
--force replaces everything it holds. Stop every rekey serve that uses the
source or the destination first: changes made during the copy are not in it.

Examples:
  rekey db copy --from ./rekey-data/rekey.db --to postgres://rekey:secret@db:5432/rekey
  rekey db copy --from postgres://rekey:secret@db:5432/rekey --to ./backup.db
`

// bindDBCopy defines the flags of "rekey db copy".
func bindDBCopy(fset *flag.FlagSet) (from, to *string, force *bool) {
	from = fset.String("from", "", "the `database` to copy: a SQLite file or a postgres:// URL")
	to = fset.String("to", "", "the `database` to copy into: a SQLite file (created if missing) or a postgres:// URL")
	force = fset.Bool("force", false, "replace everything the destination holds")
	return from, to, force
}

// runDB is "rekey db": commands on a database itself, not on a server.
func runDB(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	if d := describing(ctx); d != nil { // for shell completion: report, run nothing
		fs := flag.NewFlagSet("db copy", flag.ContinueOnError)
		bindDBCopy(fs)
		d.nodes = append(d.nodes, cmdNode{path: "db", subs: []string{"copy"}}, cmdNode{path: "db copy", flags: flagNames(fs)})
		return nil
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "-help" || args[0] == "--help" || args[0] == "help" {
		if len(args) == 0 {
			fmt.Fprint(stderr, dbHelp)
			return fmt.Errorf("%w: rekey db needs a command: copy", errUsage)
		}
		fmt.Fprint(stdout, dbHelp)
		return nil
	}
	if args[0] != "copy" {
		fmt.Fprint(stderr, dbHelp)
		return fmt.Errorf("%w: unknown command \"db %s\"; the only one is \"db copy\"", errUsage, args[0])
	}
	fset := flag.NewFlagSet("db copy", flag.ContinueOnError)
	from, to, force := bindDBCopy(fset)
	if err := parseFlags(fset, args[1:], stdout, stderr, dbHelp); err != nil {
		return helpOK(err)
	}
	if *from == "" || *to == "" {
		return fmt.Errorf("%w: db copy needs both --from and --to", errUsage)
	}
	if *from == *to {
		return fmt.Errorf("%w: --from and --to name the same database", errUsage)
	}
	for _, f := range []struct{ name, spec string }{{"--from", *from}, {"--to", *to}} {
		if err := checkCopySpec(f.name, f.spec); err != nil {
			return err
		}
	}
	src, closeSrc, err := openCopyStore(ctx, *from, true)
	if err != nil {
		return fmt.Errorf("--from: %w", err)
	}
	defer closeSrc()
	dst, closeDst, err := openCopyStore(ctx, *to, false)
	if err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	defer closeDst()
	counts, err := dbcopy.Copy(ctx, src, dst, *force, stdout)
	if errors.Is(err, dbcopy.ErrNotEmpty) {
		return fmt.Errorf("--to %s: %w", showDB(*to), err)
	}
	if err != nil {
		return err
	}
	var rows int64
	for _, c := range counts {
		rows += c.To
	}
	fmt.Fprintf(stdout, "Copied %d rows in %d tables from %s to %s; every table's count matches.\n", rows, len(counts), showDB(*from), showDB(*to))
	return nil
}

// showDB names a database for output: a URL without its password.
func showDB(spec string) string {
	if postgres.IsURL(spec) {
		return postgres.Redact(spec)
	}
	if u, err := url.Parse(spec); err == nil && u.User != nil {
		return u.Redacted() // a URL of another scheme, refused: its password still does not show
	}
	return spec
}

// checkCopySpec refuses what is neither a SQLite file nor a PostgreSQL
// URL before anything is opened: another scheme would otherwise be taken
// for a file name, and a data directory for a database file.
func checkCopySpec(flagName, spec string) error {
	if !postgres.IsURL(spec) && strings.Contains(spec, "://") {
		return fmt.Errorf("%w: %s %s: want a SQLite file (a data directory's rekey.db) or a PostgreSQL URL (postgres://user:password@host:5432/db)", errUsage, flagName, showDB(spec))
	}
	if fi, err := os.Stat(spec); err == nil && fi.IsDir() {
		return fmt.Errorf("%w: %s %s is a directory; name the database file in it, e.g. %s", errUsage, flagName, spec, filepath.Join(spec, "rekey.db"))
	}
	return nil
}

// openCopyStore opens a SQLite file or a PostgreSQL URL; the file must
// exist when mustExist (a source), so that a typo does not copy an empty
// new database.
func openCopyStore(ctx context.Context, spec string, mustExist bool) (dbcopy.Store, func(), error) {
	if postgres.IsURL(spec) {
		s, err := postgres.Open(ctx, spec)
		if err != nil {
			return nil, nil, err
		}
		return s, func() { s.Close() }, nil
	}
	if mustExist {
		if _, err := os.Stat(spec); errors.Is(err, fs.ErrNotExist) {
			return nil, nil, fmt.Errorf("%s: no such file; give a SQLite database file (a data directory's rekey.db) or a postgres:// URL", spec)
		}
	}
	s, err := sqlite.Open(ctx, spec)
	if err != nil {
		return nil, nil, err
	}
	return s, func() { s.Close() }, nil
}
