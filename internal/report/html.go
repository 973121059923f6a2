package report

import (
	"bufio"
	"crypto/sha256"
	"embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"iter"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/syncer-dev/syncer/internal/diff"
	"github.com/syncer-dev/syncer/internal/membership"
)

// The page is built by html/template from the templates and CSS in html/:
// its contextual escaping is what keeps a hostile label, address or API
// message as text, so nothing here builds HTML out of strings.
//
//go:embed html
var assets embed.FS

// pages are parsed on first use: a run that writes no HTML doesn't pay
// for it at start-up.
var pages = sync.OnceValue(func() *template.Template { return template.Must(parsePages()) })

func parsePages() (*template.Template, error) {
	t := template.New("pages").Funcs(template.FuncMap{
		"role":      cellRole,
		"duration":  humanDuration,
		"utc":       func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"count":     thousands,
		"plural":    plural,
		"source":    splitSource,
		"successor": func(c changeRow) string { return successorName(c.Successor, c.Peers) },
		"csp":       func() string { return contentPolicy },
		"version": func(r *Run) string {
			if r == nil {
				return ""
			}
			return r.Version
		},
		"f1":  func(x float64) string { return fmt.Sprintf("%.1f", x) },
		"add": func(a, b float64) float64 { return a + b },
		"sub": func(a, b float64) float64 { return a - b },
	})
	t, err := t.ParseFS(assets, "html/*.tmpl")
	if err != nil {
		return nil, err
	}
	// The style sheet and the script are template text, so trusted: they
	// are ours, and only ours, and go in as they are.
	for _, a := range []struct{ name, file string }{{"css", "html/style.css"}, {"js", "html/filter.js"}} {
		text, err := assets.ReadFile(a.file)
		if err != nil {
			return nil, err
		}
		if _, err := t.New(a.name).Parse(string(text)); err != nil {
			return nil, err
		}
	}
	// The page's policy allows that style and that script, by their hashes,
	// and nothing else: not even an injected script could run, or a
	// request leave the page. Hashed as rendered (the escaper drops
	// comments).
	probes := []struct{ open, name, close string }{{"<style>", "css", "</style>"}, {"<script>", "js", "</script>"}}
	for _, probe := range probes {
		if _, err := t.New("probe-" + probe.name).Parse(probe.open + `{{template "` + probe.name + `"}}` + probe.close); err != nil {
			return nil, err
		}
	}
	var hashes [2]string
	for i, probe := range probes {
		var buf strings.Builder
		if err := t.ExecuteTemplate(&buf, "probe-"+probe.name, nil); err != nil {
			return nil, err
		}
		sum := sha256.Sum256([]byte(strings.TrimSuffix(strings.TrimPrefix(buf.String(), probe.open), probe.close)))
		hashes[i] = "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
	}
	contentPolicy = "default-src 'none'; style-src " + hashes[0] + "; script-src " + hashes[1] + "; img-src data:; base-uri 'none'; form-action 'none'"
	return t, nil
}

// contentPolicy is the pages' Content-Security-Policy, set once with the
// templates.
var contentPolicy string

// ContentSecurityPolicy is the policy the pages carry, for a server to
// send as a header too.
func ContentSecurityPolicy() string {
	pages()
	return contentPolicy
}

// Run is what a page tells beyond the plan: which run made it, when, how
// long it took, what it asked of the API and how it ended. Only the
// command that ran knows it; a page without it shows the plan alone.
type Run struct {
	ID      string    `json:"id"`
	Command string    `json:"command"` // plan, apply, apply --plan
	Started time.Time `json:"started"`
	Seconds float64   `json:"seconds"`
	Result  string    `json:"result"` // success, failure, blocked, invalid, locked
	Exit    int       `json:"exit_code"`
	Version string    `json:"version,omitempty"`
	// Calls are the requests the run made, by the quota they count against.
	Calls []Calls `json:"calls,omitempty"`
	// PlanFile is the saved plan an apply --plan applied.
	PlanFile *PlanFile `json:"plan_file,omitempty"`
	// Why is what stopped a run that made no plan (its first problem).
	Why string `json:"why,omitempty"`
}

// Calls are a run's requests of one kind, and the quota they count against.
type Calls struct {
	Kind string `json:"kind"`
	N    int    `json:"calls"`
	// PerMinute is the quota the syncer paces this kind under (the
	// config's limits); 0 when none applies.
	PerMinute int `json:"per_minute,omitempty"`
}

// Least is the least time the quota allows N calls in: no more than
// PerMinute of them in any minute, so whole minutes of waiting once there
// are more (the floor no client beats); 0 when one minute's quota holds
// them all.
func (c Calls) Least() time.Duration {
	if c.PerMinute <= 0 || c.N <= c.PerMinute {
		return 0
	}
	return time.Duration((c.N-1)/c.PerMinute) * time.Minute
}

// PlanFile is the saved plan an apply --plan read.
type PlanFile struct {
	Path    string    `json:"path"`
	Created time.Time `json:"created"`
	// Moved says, for each space that changed since the plan was made,
	// what changed: the plan is stale, and nothing was written.
	Moved []string `json:"moved,omitempty"`
}

// Link is a link in a served page's header.
type Link struct{ Href, Text string }

// Page is what the HTML report shows: the plan, and the run when known.
type Page struct {
	Plan diff.Plan
	Run  *Run
	// Nav links the page to its neighbours when served; none in a file.
	Nav []Link
}

// HTML writes the report as one self-contained page: inline style, no
// request to anywhere, readable with scripts off and in print.
func HTML(w io.Writer, p Page) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pages().ExecuteTemplate(bw, "report.html.tmpl", newReportView(printablePage(p))); err != nil {
		return err
	}
	return bw.Flush()
}

// reportView is the page's data: the plan's own values, grouped by space.
// Templates read the diff types directly, so a field the plan gains is a
// template change.
type reportView struct {
	Page
	Title    string
	Complete bool
	PlanLine string
	// NewToSync counts and names the spaces new to policy sync.
	NewToSync      int
	NewToSyncNames string
	Figures        []figure
	Outcomes       []figure
	Spaces         []spaceView
	AsDesired      []diff.SpaceSummary // read, nothing to do
	Unread         []diff.SpaceSummary
	// Consent is the --allow-removals a blocked run needs (rails only).
	Consent  int
	Railed   bool // blocked by the removal rails (not a saved plan)
	Stale    bool // a saved plan whose spaces moved
	Least    time.Duration
	LeastBy  string
	Rows     int
	FoldFrom int
	// FailedRows are the first failed changes, for the banner.
	FailedRows []failedRow
	FailedMore int
}

// failedShown is how many failed changes the banner names.
const failedShown = 10

type failedRow struct {
	Space diff.SpaceSummary
	diff.Change
}

// changeRow is a change as its row shows it, with the space's other
// changes (a last owner's removal names the promotion it waits for).
type changeRow struct {
	*diff.Change
	Peers []diff.Change
}

type figure struct {
	Label string
	N     int
	Class string
}

// spaceView is one space with its changes and the removals it keeps.
type spaceView struct {
	diff.SpaceSummary
	Changes   []diff.Change
	Rows      []changeRow
	Pending   []diff.Kept
	Protected []diff.Kept
	Folded    bool
	Create    int
	Update    int
	Delete    int
	Failed    int // after an apply: changes that failed (its header says so)
}

func newReportView(p Page) reportView {
	plan := p.Plan
	s := plan.Summary
	v := reportView{Page: p, Title: "Chat membership plan", FoldFrom: foldAfter, Complete: plan.Complete(), PlanLine: planLine(plan)}
	v.NewToSync, v.NewToSyncNames = newToSync(plan)
	if plan.Applied {
		v.Title = "Chat membership sync"
	}
	v.Figures = []figure{{"to add", s.Create, "add"}, {"to change role", s.UpdateRole, "role"}, {"to remove", s.Delete, "remove"},
		{"removal pending", s.RemovalPending, "kept"}, {"protected", s.Protected, "kept"}, {"invitations pending", s.InvitedPending, ""},
		{"unchanged", s.Unchanged, ""}}
	if plan.Applied {
		v.Outcomes = []figure{{"applied", s.Applied, "ok"}, {"already done", s.AlreadyDone, "ok"}, {"failed", s.Failed, "bad"}, {"skipped", s.Skipped, "warn"}}
	}
	changes := bySpace(plan.Changes)
	pending := map[string][]diff.Kept{}
	for _, k := range plan.Pending {
		pending[k.Space] = append(pending[k.Space], k)
	}
	protected := map[string][]diff.Kept{}
	for _, k := range plan.Protected {
		protected[k.Space] = append(protected[k.Space], k)
	}
	spaces := plan.Spaces
	seen := make(map[string]bool, len(spaces))
	for _, sp := range spaces {
		seen[sp.Name] = true
	}
	// Whatever names a space the plan does not list still shows.
	var extra []string
	for _, names := range []iter.Seq[string]{maps.Keys(changes), maps.Keys(pending), maps.Keys(protected)} {
		for name := range names {
			if !seen[name] {
				seen[name] = true
				extra = append(extra, name)
			}
		}
	}
	slices.Sort(extra)
	for _, name := range extra {
		spaces = append(spaces, diff.SpaceSummary{Name: name, Listed: true})
	}
	for _, sp := range spaces {
		cs := changes[sp.Name]
		if !sp.Listed {
			v.Unread = append(v.Unread, sp)
		}
		if len(cs)+len(pending[sp.Name])+len(protected[sp.Name]) == 0 {
			if sp.Listed {
				v.AsDesired = append(v.AsDesired, sp)
			}
			continue
		}
		sv := spaceView{SpaceSummary: sp, Changes: cs, Rows: make([]changeRow, len(cs)), Pending: pending[sp.Name], Protected: protected[sp.Name]}
		for i := range cs {
			sv.Rows[i] = changeRow{Change: &cs[i], Peers: cs}
		}
		for _, c := range cs {
			switch c.Action {
			case diff.Create:
				sv.Create++
			case diff.UpdateRole:
				sv.Update++
			case diff.Delete:
				sv.Delete++
			}
			if c.Status == diff.Failed {
				sv.Failed++
				if len(v.FailedRows) < failedShown {
					v.FailedRows = append(v.FailedRows, failedRow{Space: sp, Change: c})
				}
			}
		}
		rows := len(cs) + len(sv.Pending) + len(sv.Protected)
		sv.Folded = rows > foldAfter
		v.Rows += rows
		v.Spaces = append(v.Spaces, sv)
	}
	v.FailedMore = s.Failed - len(v.FailedRows)
	if len(plan.Blocked) > 0 {
		if p.Run != nil && p.Run.PlanFile != nil {
			v.Stale = len(p.Run.PlanFile.Moved) > 0
		} else {
			v.Railed, v.Consent = true, s.Delete
		}
	}
	if p.Run != nil {
		for _, c := range p.Run.Calls {
			if l := c.Least(); l > v.Least {
				v.Least, v.LeastBy = l, c.Kind
			}
		}
	}
	return v
}

// cellRole is a role in a table cell: a dash where there is none (the
// from of a create, the to of a removal).
func cellRole(r membership.Role) string {
	if r == "" {
		return "–"
	}
	return roleName(r)
}

// splitSource parts a change's source into where (file:line) and the rule
// that decided it, when one did: "a.yaml:9 (group_members x@)".
func splitSource(s string) [2]string {
	if at, rule, ok := strings.Cut(s, " ("); ok && strings.HasSuffix(rule, ")") {
		return [2]string{at, strings.TrimSuffix(rule, ")")}
	}
	return [2]string{s, ""}
}

// humanDuration is a run's length as people say it.
func humanDuration(d any) string {
	var x time.Duration
	switch d := d.(type) {
	case time.Duration:
		x = d
	case float64:
		x = time.Duration(d * float64(time.Second))
	default:
		return fmt.Sprint(d)
	}
	switch {
	case x < time.Second:
		return fmt.Sprintf("%d ms", x.Milliseconds())
	case x < 10*time.Second:
		return fmt.Sprintf("%.1f s", x.Seconds())
	case x < time.Minute:
		return fmt.Sprintf("%d s", int(x.Round(time.Second).Seconds()))
	case x < time.Hour:
		x = x.Round(time.Second)
		return fmt.Sprintf("%d min %d s", int(x.Minutes()), int(x.Seconds())%60)
	}
	x = x.Round(time.Minute)
	return fmt.Sprintf("%d h %d min", int(x.Hours()), int(x.Minutes())%60)
}

// thousands writes 60000 as 60,000.
func thousands(n int) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + thousands(-n)
	}
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}
