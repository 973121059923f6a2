package report

import (
	"bufio"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/syncer-dev/syncer/internal/diff"
)

// RunLine is one run as the history shows it: how it went and what it
// counted, without its changes.
type RunLine struct {
	Run      Run          `json:"run"`
	Summary  diff.Summary `json:"summary"`
	Applied  bool         `json:"applied"`
	Complete bool         `json:"complete"`
	Blocked  bool         `json:"blocked"`
	Spaces   int          `json:"spaces"`
	// Report is the link to the run's whole report; empty when it is not
	// kept (too large, or past the history's byte cap).
	Report string `json:"-"`
}

// LineOf sums up a run; plan is nil for a run that made none (invalid
// config, lock held).
func LineOf(run Run, plan *diff.Plan) RunLine {
	l := RunLine{Run: run}
	if plan != nil {
		l.Summary, l.Applied, l.Complete, l.Blocked, l.Spaces = plan.Summary, plan.Applied, plan.Complete(), len(plan.Blocked) > 0, len(plan.Spaces)
	}
	l.Run.PlanFile = nil // the run's page says which; the list needs no more
	return l
}

// Changes is how many changes the run planned.
func (l RunLine) Changes() int { return l.Summary.Create + l.Summary.UpdateRole + l.Summary.Delete }

// Calls is how many requests the run made.
func (l RunLine) Calls() int {
	n := 0
	for _, c := range l.Run.Calls {
		n += c.N
	}
	return n
}

// RunsPage is serve's history page: the last runs, newest first.
type RunsPage struct {
	Runs []RunLine
	// Keep is how many runs the history keeps; Where is the state
	// location that holds it.
	Keep  int
	Where string
	// Problem says why the history could not be read, when it could not.
	Problem string
	Nav     []Link
}

// Runs writes the history page: a chart of changes and duration per run,
// drawn here as inline SVG, and a table with a link to each run's report.
func Runs(w io.Writer, p RunsPage) error {
	// Why a run made no plan may quote Google or a source: shown as the
	// report page shows its values (printablePage).
	p.Runs = slices.Clone(p.Runs)
	for i := range p.Runs {
		p.Runs[i].Run.Why = Printable(p.Runs[i].Run.Why)
	}
	p.Problem = Printable(p.Problem)
	bw := bufio.NewWriterSize(w, 64<<10)
	if err := pages().ExecuteTemplate(bw, "runs.html.tmpl", runsView{RunsPage: p, Chart: newChart(p.Runs)}); err != nil {
		return err
	}
	return bw.Flush()
}

type runsView struct {
	RunsPage
	Chart *chart
}

// chart is the history drawn as SVG: per run, oldest on the left, a bar
// of its changes (stacked by kind) against the left scale and a dot for
// its duration against the right one.
type chart struct {
	W, H                   int
	Left, Right, Top, Base float64
	Bars                   []bar
	Line                   string // the duration dots joined
	MaxChanges             int
	MaxSeconds             float64
	Ticks                  []tick
}

type bar struct {
	X, W, CX, DY float64 // CX, DY: the duration dot
	Segments     []segment
	Title        string
	Result       string
}

type segment struct {
	X, Y, W, H float64
	Class      string
}

type tick struct {
	Y              float64
	Changes, Label string
}

// chartRuns is how many of the newest runs the chart draws.
const chartRuns = 100

func newChart(runs []RunLine) *chart {
	if len(runs) == 0 {
		return nil
	}
	if len(runs) > chartRuns {
		runs = runs[:chartRuns]
	}
	c := &chart{W: 1000, H: 240, Left: 48, Right: 952, Top: 14, Base: 206}
	for _, r := range runs {
		c.MaxChanges = max(c.MaxChanges, r.Changes())
		c.MaxSeconds = max(c.MaxSeconds, r.Run.Seconds)
	}
	c.MaxChanges = niceCeiling(c.MaxChanges)
	secondsTop := float64(niceCeiling(int(c.MaxSeconds + 0.999)))
	c.MaxSeconds = secondsTop
	height := c.Base - c.Top
	for i := 0; i <= 4; i++ {
		y := c.Base - height*float64(i)/4
		c.Ticks = append(c.Ticks, tick{Y: y, Changes: thousands(c.MaxChanges * i / 4), Label: humanDuration(secondsTop * float64(i) / 4)})
	}
	slot := (c.Right - c.Left) / float64(len(runs))
	var points []string
	for i := range runs {
		r := runs[len(runs)-1-i] // oldest first
		b := bar{X: c.Left + slot*float64(i) + slot*0.15, W: slot * 0.7, Result: r.Run.Result}
		b.CX = b.X + b.W/2
		y := c.Base
		for _, s := range []struct {
			n     int
			class string
		}{{r.Summary.Create, "add"}, {r.Summary.UpdateRole, "role"}, {r.Summary.Delete, "remove"}} {
			if s.n == 0 {
				continue
			}
			h := height * float64(s.n) / float64(c.MaxChanges)
			y -= h
			b.Segments = append(b.Segments, segment{X: b.X, Y: y, W: b.W, H: h, Class: s.class})
		}
		b.DY = c.Base - height*r.Run.Seconds/secondsTop
		b.Title = fmt.Sprintf("%s, %s: %s, %s to add, %s to change, %s to remove; took %s", r.Run.Started.UTC().Format("2006-01-02 15:04 UTC"), r.Run.Command,
			r.Run.Result, thousands(r.Summary.Create), thousands(r.Summary.UpdateRole), thousands(r.Summary.Delete), humanDuration(r.Run.Seconds))
		c.Bars = append(c.Bars, b)
		points = append(points, fmt.Sprintf("%.1f,%.1f", b.CX, b.DY))
	}
	c.Line = strings.Join(points, " ")
	return c
}

// niceCeiling rounds n up to 1, 2 or 5 times a power of ten (at least 4,
// so that quarter ticks are whole).
func niceCeiling(n int) int {
	if n <= 4 {
		return 4
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 5} {
			if n <= m*p*4 && (m*p*4)%4 == 0 {
				return m * p * 4
			}
		}
	}
}
