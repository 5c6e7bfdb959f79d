// Replaces Alertmanager's ui/web.go when scripts/install-stack.sh builds it from its Go module:
// the module lacks the web UI's built assets, so / and /ui/ answer one page that says so and
// lists the API instead of a bare 404. The compose stack runs the prom/alertmanager image, UI
// included.
package ui

import (
	_ "embed"
	"net/http"

	"github.com/prometheus/common/route"
)

//go:embed alertmanager.html
var page []byte

// Register serves the page where the web UI would be.
func Register(r *route.Router) {
	serve := func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Cache-Control", "no-store")
		_, _ = w.Write(page)
	}
	r.Get("/", serve)
	r.Get("/ui/", serve)
}
