package accesslog

import (
	"context"
	"testing"
)

func TestProbeTx(t *testing.T) {
	s := openTestStore(t, "")
	ctx := context.Background()
	tx, err := s.writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.insertRows(ctx, tx, testRecords("p", 5)); err != nil {
		t.Fatal(err)
	}
	tx.Rollback()
	var n int
	s.DB().QueryRow("SELECT COUNT(*) FROM accesslog").Scan(&n)
	t.Logf("rows after rollback: %d", n)
}
