package budget_test

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/aiproxy-go/aiproxy/budget"
)

func Example() {
	ctx := context.Background()
	db, _ := sql.Open("sqlite", ":memory:")
	db.SetMaxOpenConns(1) // one connection: each connection to :memory: is its own database
	defer db.Close()
	ledger, err := budget.Open(ctx, db, budget.Options{})
	if err != nil {
		panic(err)
	}
	// A request estimated at $0.40 fits a $1 budget, twice; a third does not.
	for _, id := range []string{"req-1", "req-2", "req-3"} {
		ok, _ := ledger.Reserve(ctx, id, "team-a", 1.00, 0.40)
		fmt.Println(id, "admitted:", ok)
	}
	// The first one really cost $0.05.
	_ = ledger.Settle(ctx, budget.Settlement{RequestID: "req-1", Key: "team-a", CostUSD: 0.05})
	s, _ := ledger.Spend(ctx, "team-a", time.Now())
	fmt.Printf("spent $%.2f, reserved $%.2f\n", s.SpentUSD, s.ReservedUSD)
	// Output:
	// req-1 admitted: true
	// req-2 admitted: true
	// req-3 admitted: false
	// spent $0.05, reserved $0.40
}
