package dashboard

// SetMaxSeriesRows changes the bound on the series' rows until the returned function runs.
func SetMaxSeriesRows(n int) (restore func()) {
	old := maxSeriesRows
	maxSeriesRows = n
	return func() { maxSeriesRows = old }
}

// SetReadRollups lets the overview of h read the hourly rollups (the default) or only the
// access log's rows.
func SetReadRollups(h *Handler, on bool) {
	h.readRollups.Store(on)
}
