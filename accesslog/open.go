package accesslog

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// DefaultDSN is the database Open uses when given none: a SQLite file in the working directory.
const DefaultDSN = "aiproxy.db"

// Open opens the store that dsn names and brings its schema up to date, adding the custom
// columns that are missing.
//
// dsn is one of:
//   - "" for DefaultDSN, the SQLite file aiproxy.db;
//   - a file path, or a SQLite "file:" URI;
//   - a SQLAlchemy-style URL as the original Python AIProxy took it: "sqlite:///aiproxy.db" is
//     the relative path aiproxy.db, "sqlite:////var/lib/aiproxy.db" the absolute path
//     /var/lib/aiproxy.db, and "sqlite://aiproxy.db" also the relative path; a bare
//     "sqlite://" (or "sqlite:///") is a private in-memory database;
//   - "postgres://..." or "postgresql://...", a PostgreSQL database opened with OpenPostgres;
//     SQLAlchemy's "postgresql+psycopg2://..." that the original's --connection_str took is
//     read as "postgresql://...".
//
// Errors never show a PostgreSQL password.
func Open(dsn string, cols ...Column) (Store, error) {
	if u, ok := postgresURL(dsn); ok {
		s, err := OpenPostgres(context.Background(), u, cols...)
		if err != nil {
			return nil, err
		}
		return s, nil
	}
	path, err := sqlitePath(dsn)
	if err != nil {
		return nil, err
	}
	s, err := OpenSQLite(path, cols...)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// sqlitePath resolves dsn to the path of a SQLite database.
func sqlitePath(dsn string) (string, error) {
	lower := strings.ToLower(dsn)
	switch {
	case dsn == "":
		return DefaultDSN, nil
	case strings.HasPrefix(lower, "postgres://"), strings.HasPrefix(lower, "postgresql://"):
		return "", errors.New("postgresql storage is not available in this build yet")
	case strings.HasPrefix(lower, "sqlite://"):
		p := dsn[len("sqlite://"):]
		if p == "" || p == "/" {
			return ":memory:", nil
		}
		// SQLAlchemy's third slash separates the (empty) host from the path.
		return strings.TrimPrefix(p, "/"), nil
	case strings.Contains(dsn, "://"):
		scheme, _, _ := strings.Cut(dsn, "://")
		return "", fmt.Errorf("unsupported database url scheme %q: want a sqlite path or url, or postgres://", scheme)
	}
	return dsn, nil
}

// DefaultSpillDir is where the binary keeps the writer's spill for the database dsn: next
// to a SQLite file (aiproxy.db-spill), or for PostgreSQL in the user's cache directory
// under a name derived from the database and instance (for example the listen address),
// so that several proxies on one machine never share a spill while each finds its own
// again after a restart. It is "" for an in-memory database or when no cache directory
// exists.
func DefaultSpillDir(dsn, instance string) string {
	if _, ok := postgresURL(dsn); !ok {
		path, err := sqlitePath(dsn)
		if err != nil || isMemoryPath(path) {
			return ""
		}
		return path + "-spill"
	}
	cache, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	sum := sha256.Sum256([]byte(RedactDSN(dsn) + "\x00" + instance))
	return filepath.Join(cache, "aiproxy", "spill-"+hex.EncodeToString(sum[:6]))
}
