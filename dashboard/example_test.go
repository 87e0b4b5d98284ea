package dashboard_test

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	"github.com/aiproxy-go/aiproxy/accesslog"
	"github.com/aiproxy-go/aiproxy/dashboard"
)

// The dashboard is an http.Handler mounted at its prefix beside the proxy.
func Example() {
	dir, err := os.MkdirTemp("", "dashboard-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	store, err := accesslog.OpenSQLite(filepath.Join(dir, "aiproxy.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer store.Close()

	dash, err := dashboard.New(dashboard.Options{Store: store, AdminToken: "s3cret"})
	if err != nil {
		log.Fatal(err)
	}
	defer dash.Close() // stops the maintenance of the hourly rollups
	mux := http.NewServeMux()
	mux.Handle("/dashboard/", dash) // and mux.Handle("/", proxy)
	srv := httptest.NewServer(mux)
	defer srv.Close()

	req, _ := http.NewRequest(http.MethodGet, srv.URL+"/dashboard/api/storage", nil)
	req.Header.Set("Authorization", "Bearer s3cret")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		log.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	fmt.Println(resp.Status, strings.Contains(string(body), `"rows":0`))
	// Output: 200 OK true
}
