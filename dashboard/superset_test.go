package dashboard_test

import (
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/aiproxy-go/aiproxy/dashboard"
)

// supersetDataset is the part of a Superset dataset export the test reads.
type supersetDataset struct {
	TableName   string `yaml:"table_name"`
	SQL         string `yaml:"sql"`
	UUID        string `yaml:"uuid"`
	DatabaseUID string `yaml:"database_uuid"`
	MainDttm    string `yaml:"main_dttm_col"`
	Metrics     []struct {
		Name       string `yaml:"metric_name"`
		Expression string `yaml:"expression"`
	} `yaml:"metrics"`
	Columns []struct {
		Name string `yaml:"column_name"`
	} `yaml:"columns"`
}

type supersetChart struct {
	Name    string         `yaml:"slice_name"`
	Params  map[string]any `yaml:"params"`
	Dataset string         `yaml:"dataset_uuid"`
	UUID    string         `yaml:"uuid"`
}

func readYAML(t *testing.T, path string, v any) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
}

func TestSupersetSQLite(t *testing.T) {
	e := newSQLiteEnv(t, dashboard.Options{})
	e.fill()
	testSuperset(t, e, "superset/sqlite")
}

func TestSupersetPostgres(t *testing.T) {
	e := newPostgresEnv(t, dashboard.Options{})
	e.fill()
	testSuperset(t, e, "superset/postgres")
}

// testSuperset runs every query of the template the way Superset runs a virtual dataset (the
// dataset's SQL as a subquery) against a log of real traffic, and checks the figures.
func testSuperset(t *testing.T, e *env, dir string) {
	var meta struct {
		Version string `yaml:"version"`
		Type    string `yaml:"type"`
	}
	readYAML(t, filepath.Join(dir, "metadata.yaml"), &meta)
	var db struct {
		UUID string `yaml:"uuid"`
		URI  string `yaml:"sqlalchemy_uri"`
	}
	readYAML(t, filepath.Join(dir, "databases", "AIProxy.yaml"), &db)
	if meta.Version != "1.0.0" || meta.Type != "Dashboard" || db.UUID == "" || db.URI == "" {
		t.Fatalf("metadata %+v, database %+v", meta, db)
	}

	x := expect(e.exchangeRows())
	datasets := map[string]supersetDataset{}
	files, _ := filepath.Glob(filepath.Join(dir, "datasets", "*", "*.yaml"))
	for _, f := range files {
		var ds supersetDataset
		readYAML(t, f, &ds)
		if ds.DatabaseUID != db.UUID {
			t.Errorf("%s: database %s, want %s", f, ds.DatabaseUID, db.UUID)
		}
		datasets[ds.UUID] = ds
		metrics := map[string]float64{}
		for _, m := range ds.Metrics {
			q := fmt.Sprintf("SELECT %s FROM (%s) AS virtual_table", m.Expression, ds.SQL)
			var v sql.NullFloat64
			if err := e.db.QueryRow(q).Scan(&v); err != nil {
				t.Fatalf("%s metric %s: %v", ds.TableName, m.Name, err)
			}
			metrics[m.Name] = v.Float64
		}
		// Every column is selected by name, as a table chart does.
		var names []string
		for _, c := range ds.Columns {
			names = append(names, `"`+c.Name+`"`)
		}
		q := fmt.Sprintf("SELECT %s FROM (%s) AS virtual_table ORDER BY %s", strings.Join(names, ", "), ds.SQL, ds.MainDttm)
		rows, err := e.db.Query(q)
		if err != nil {
			t.Fatalf("%s columns: %v", ds.TableName, err)
		}
		n := 0
		for rows.Next() {
			n++
		}
		rows.Close()
		switch ds.TableName {
		case "accesslog_exchanges":
			if n != len(traffic) || metrics["count"] != float64(len(traffic)) {
				t.Errorf("exchanges: %d rows, count %v, want %d", n, metrics["count"], len(traffic))
			}
		case "accesslog_hourly":
			want := map[string]float64{
				"requests": float64(x.requests), "success": float64(x.success), "client_errors": float64(x.c4),
				"server_errors": float64(x.c5), "input_tokens": float64(x.in), "output_tokens": float64(x.out),
				"cost_usd": x.cost, "avg_request_time": x.avgRT, "avg_request_time_api": x.avgAPI,
			}
			for k, w := range want {
				if !closeTo(metrics[k], w, 1e-9) {
					t.Errorf("hourly %s = %v, want %v", k, metrics[k], w)
				}
			}
			if n < 1 || n > 2 {
				t.Errorf("hourly: %d hours", n)
			}
		default:
			t.Errorf("unexpected dataset %s", ds.TableName)
		}
	}
	if len(datasets) != 2 {
		t.Fatalf("%d datasets", len(datasets))
	}

	// The charts use the datasets' metrics and columns; the dashboard shows both charts.
	charts := map[string]bool{}
	files, _ = filepath.Glob(filepath.Join(dir, "charts", "*.yaml"))
	for _, f := range files {
		var c supersetChart
		readYAML(t, f, &c)
		ds, ok := datasets[c.Dataset]
		if !ok {
			t.Errorf("%s: unknown dataset %s", c.Name, c.Dataset)
			continue
		}
		charts[c.UUID] = true
		have := map[string]bool{}
		for _, m := range ds.Metrics {
			have[m.Name] = true
		}
		for _, c := range ds.Columns {
			have[c.Name] = true
		}
		for _, key := range []string{"metrics", "all_columns"} {
			list, _ := c.Params[key].([]any)
			for _, v := range list {
				if !have[fmt.Sprint(v)] {
					t.Errorf("%s: %s %v is not in dataset %s", c.Name, key, v, ds.TableName)
				}
			}
		}
	}
	var dash struct {
		Position map[string]any `yaml:"position"`
	}
	readYAML(t, filepath.Join(dir, "dashboards", "AIProxy.yaml"), &dash)
	shown := 0
	for _, v := range dash.Position {
		p, _ := v.(map[string]any)
		if p["type"] == "CHART" {
			meta, _ := p["meta"].(map[string]any)
			if !charts[fmt.Sprint(meta["uuid"])] {
				t.Errorf("dashboard shows unknown chart %v", meta["uuid"])
			}
			shown++
		}
	}
	if shown != 2 || len(charts) != 2 {
		t.Errorf("dashboard shows %d of %d charts", shown, len(charts))
	}
}
