package dashboard

// SetMaxSeriesRows changes the bound on the series' rows until the returned function runs.
func SetMaxSeriesRows(n int) (restore func()) {
	old := maxSeriesRows
	maxSeriesRows = n
	return func() { maxSeriesRows = old }
}
