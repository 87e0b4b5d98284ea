package budget_test

import (
	"context"
	"database/sql"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib"
	_ "modernc.org/sqlite"

	"github.com/aiproxy-go/aiproxy/budget"
)

// clock is a settable clock for the ledger.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.t = t
	c.mu.Unlock()
}

// database is one of the databases the ledger runs on, with a fresh table name per test.
type database struct {
	name  string
	open  func(t *testing.T) *sql.DB // opens the same database again on each call
	table string
}

func databases(t *testing.T) []database {
	path := filepath.Join(t.TempDir(), "budget.db")
	dbs := []database{{name: "sqlite", table: "budget", open: func(t *testing.T) *sql.DB {
		db, err := sql.Open("sqlite", "file:"+path+"?_pragma=busy_timeout(5000)&_pragma=journal_mode(WAL)")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { db.Close() })
		return db
	}}}
	if dsn := os.Getenv("AIPROXY_TEST_POSTGRES"); dsn != "" {
		table := fmt.Sprintf("budget_test_%d_%d", os.Getpid(), time.Now().UnixNano()%1e9)
		dbs = append(dbs, database{name: "postgres", table: table, open: func(t *testing.T) *sql.DB {
			db, err := sql.Open("pgx", dsn)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() {
				db.Exec("DROP TABLE IF EXISTS " + table)
				db.Exec("DROP TABLE IF EXISTS " + table + "_reservation")
				db.Close()
			})
			return db
		}})
	}
	return dbs
}

func eachDatabase(t *testing.T, f func(t *testing.T, d database)) {
	for _, d := range databases(t) {
		t.Run(d.name, func(t *testing.T) { f(t, d) })
	}
}

func open(t *testing.T, d database, c *clock) *budget.Ledger {
	t.Helper()
	l, err := budget.Open(context.Background(), d.open(t), budget.Options{Table: d.table, Now: c.Now, ReservationTTL: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func spend(t *testing.T, l *budget.Ledger, key string, at time.Time) budget.Spend {
	t.Helper()
	s, err := l.Spend(context.Background(), key, at)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func near(a, b float64) bool { return math.Abs(a-b) < 1e-9 }

func TestReserveAndSettle(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
		l := open(t, d, c)
		for i, want := range []bool{true, true, false} {
			ok, err := l.Reserve(ctx, fmt.Sprint("r", i), "team-a", 1.0, 0.4)
			if err != nil {
				t.Fatal(err)
			}
			if ok != want {
				t.Fatalf("reservation %d: admitted %v, want %v", i, ok, want)
			}
		}
		if s := spend(t, l, "team-a", c.Now()); !near(s.ReservedUSD, 0.8) || s.SpentUSD != 0 {
			t.Fatalf("after two reservations: %+v", s)
		}
		if err := l.Settle(ctx, budget.Settlement{RequestID: "r0", Key: "team-a", CostUSD: 0.1}); err != nil {
			t.Fatal(err)
		}
		if s := spend(t, l, "team-a", c.Now()); !near(s.ReservedUSD, 0.4) || !near(s.SpentUSD, 0.1) {
			t.Fatalf("after settling r0: %+v", s)
		}
		// 0.1 spent + 0.4 reserved + 0.4 fits in 1.0 now.
		if ok, err := l.Reserve(ctx, "r3", "team-a", 1.0, 0.4); err != nil || !ok {
			t.Fatalf("reservation after settle: %v %v", ok, err)
		}
		// Another key has its own budget.
		if ok, err := l.Reserve(ctx, "b0", "team-b", 1.0, 0.9); err != nil || !ok {
			t.Fatalf("other key: %v %v", ok, err)
		}
		// A zero estimate is admitted while something is left, not once the budget is spent.
		if ok, err := l.Reserve(ctx, "z0", "team-c", 0.5, 0); err != nil || !ok {
			t.Fatalf("zero estimate with budget left: %v %v", ok, err)
		}
		if err := l.Settle(ctx, budget.Settlement{RequestID: "z0", Key: "team-c", CostUSD: 0.5}); err != nil {
			t.Fatal(err)
		}
		if ok, err := l.Reserve(ctx, "z1", "team-c", 0.5, 0); err != nil || ok {
			t.Fatalf("zero estimate with the budget spent: %v %v", ok, err)
		}
	})
}

func TestNewDayAndRestart(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		day1 := time.Date(2026, 11, 20, 23, 59, 0, 0, time.UTC)
		c := &clock{t: day1}
		l := open(t, d, c)
		if ok, _ := l.Reserve(ctx, "a", "k", 1, 0.9); !ok {
			t.Fatal("first reservation refused")
		}
		if err := l.Settle(ctx, budget.Settlement{RequestID: "a", Key: "k", CostUSD: 0.9}); err != nil {
			t.Fatal(err)
		}
		if ok, _ := l.Reserve(ctx, "b", "k", 1, 0.5); ok {
			t.Fatal("over budget admitted")
		}

		// A new ledger on the same database (a restart) keeps the spend.
		again := open(t, d, c)
		if s := spend(t, again, "k", day1); !near(s.SpentUSD, 0.9) {
			t.Fatalf("spend after restart: %+v", s)
		}
		if ok, _ := again.Reserve(ctx, "c", "k", 1, 0.5); ok {
			t.Fatal("over budget admitted after restart")
		}

		// The next UTC day starts from zero.
		if next := budget.NextDay(day1); !next.Equal(time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC)) {
			t.Fatalf("NextDay = %v", next)
		}
		c.Set(day1.Add(2 * time.Minute))
		if ok, _ := again.Reserve(ctx, "d", "k", 1, 0.5); !ok {
			t.Fatal("refused on a new day")
		}
		if s := spend(t, again, "k", c.Now()); s.SpentUSD != 0 || !near(s.ReservedUSD, 0.5) {
			t.Fatalf("new day: %+v", s)
		}
	})
}

func TestSweepReleasesStaleReservations(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
		c := &clock{t: start}
		l := open(t, d, c)
		if ok, _ := l.Reserve(ctx, "lost", "k", 1, 0.8); !ok {
			t.Fatal("refused")
		}
		c.Set(start.Add(30 * time.Minute))
		if ok, _ := l.Reserve(ctx, "young", "k", 1, 0.1); !ok {
			t.Fatal("refused")
		}
		if n, err := l.Sweep(ctx); err != nil || n != 0 {
			t.Fatalf("sweep before the TTL: %d %v", n, err)
		}
		c.Set(start.Add(61 * time.Minute))
		if n, err := l.Sweep(ctx); err != nil || n != 1 {
			t.Fatalf("sweep after the TTL: %d %v", n, err)
		}
		if s := spend(t, l, "k", start); !near(s.ReservedUSD, 0.1) {
			t.Fatalf("after sweep: %+v", s)
		}
		// The late settlement of the swept request still charges its cost, to today.
		if err := l.Settle(ctx, budget.Settlement{RequestID: "lost", Key: "k", CostUSD: 0.3}); err != nil {
			t.Fatal(err)
		}
		if s := spend(t, l, "k", start); !near(s.SpentUSD, 0.3) || !near(s.ReservedUSD, 0.1) {
			t.Fatalf("after late settle: %+v", s)
		}
	})
}

// TestConcurrentReservationsNeverOverspend has many goroutines, on two ledgers (two
// processes) over one database, reserve at once: exactly as many as fit are admitted.
func TestConcurrentReservationsNeverOverspend(t *testing.T) {
	eachDatabase(t, func(t *testing.T, d database) {
		ctx := context.Background()
		c := &clock{t: time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)}
		ledgers := []*budget.Ledger{open(t, d, c), open(t, d, c)}
		var admitted atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 40)
		for i := range 40 {
			wg.Go(func() {
				ok, err := ledgers[i%2].Reserve(ctx, fmt.Sprint("req", i), "shared", 1.0, 0.07)
				if err != nil {
					errs <- err
				}
				if ok {
					admitted.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Fatal(err)
		}
		if got := admitted.Load(); got != 14 { // 14 × 0.07 = 0.98 ≤ 1 < 15 × 0.07
			t.Fatalf("admitted %d, want 14", got)
		}
		if s := spend(t, ledgers[0], "shared", c.Now()); !near(s.ReservedUSD, 0.98) {
			t.Fatalf("reserved %+v", s)
		}
	})
}

func TestOpenRejectsBadTableName(t *testing.T) {
	db, err := sql.Open("sqlite", ":memory:")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if _, err := budget.Open(context.Background(), db, budget.Options{Table: "x; DROP TABLE accesslog"}); err == nil {
		t.Fatal("accepted a table name that is not an identifier")
	}
}
