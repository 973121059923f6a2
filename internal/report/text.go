package report

import (
	"bufio"
	"fmt"
	"io"

	"github.com/syncer-dev/syncer/internal/diff"
)

// Text writes the report for people: one block per space with changes,
// + create, ~ role change, - remove, then warnings and the plan line.
func Text(w io.Writer, plan diff.Plan) error {
	bw := bufio.NewWriter(w)
	if len(plan.Blocked) > 0 {
		fmt.Fprintln(bw, "BLOCKED by a safety check: nothing was changed.")
		for _, line := range plan.Blocked {
			fmt.Fprintf(bw, "  ! %s\n", Printable(line))
		}
		fmt.Fprintln(bw)
	}
	if !plan.Complete() {
		fmt.Fprintln(bw, "INCOMPLETE: this run could not see or do everything:")
		for _, line := range plan.Incomplete {
			fmt.Fprintf(bw, "  ! %s\n", Printable(line))
		}
		for _, s := range plan.Spaces {
			if !s.Listed {
				fmt.Fprintf(bw, "    %s: not read: %s\n", Printable(spaceTitle(s)), Printable(orUnknown(s.Error)))
			}
		}
		fmt.Fprintln(bw)
	}
	changes := bySpace(plan.Changes)
	pending := map[string]bool{} // a removal waits there: not "as desired" yet
	for _, k := range plan.Pending {
		pending[k.Space] = true
	}
	quiet := 0
	for _, s := range plan.Spaces {
		cs := changes[s.Name]
		if len(cs) == 0 {
			if s.Listed && !pending[s.Name] {
				quiet++
			}
			continue
		}
		textSpace(bw, s, cs)
	}
	if quiet > 0 {
		fmt.Fprintf(bw, "%s already as desired.\n", plural(quiet, "space", "spaces"))
	}
	if n, names := newToSync(plan); n > 0 {
		fmt.Fprintf(bw, "%s new to policy sync (no completed sync run yet; removals there need --allow-removals once): %s.\n",
			plural(n, "space", "spaces"), Printable(names))
	}
	if plan.Summary.InvitedPending > 0 {
		fmt.Fprintf(bw, "%s pending acceptance (counted as present).\n", plural(plan.Summary.InvitedPending, "invitation", "invitations"))
	}
	for _, list := range []struct {
		title string
		items []diff.Kept
	}{{"Removals pending (the grace period holds them)", plan.Pending}, {"Not removed (why beside each)", plan.Protected}} {
		if len(list.items) == 0 {
			continue
		}
		fmt.Fprintf(bw, "%s:\n", list.title)
		for _, k := range list.items {
			fmt.Fprintf(bw, "  = %s %s: %s\n", Printable(k.Space), Printable(k.Member), Printable(k.Why))
		}
	}
	if len(plan.Warnings) > 0 {
		fmt.Fprintln(bw, "Warnings:")
		for _, warning := range plan.Warnings {
			fmt.Fprintf(bw, "  ! %s\n", Printable(warning))
		}
	}
	fmt.Fprintln(bw, planLine(plan))
	if plan.Applied {
		fmt.Fprintln(bw, outcomeLine(plan.Summary))
	}
	return bw.Flush()
}

// TextSpace writes one space's block as Text does, for showing a plan as
// it is decided, space by space.
func TextSpace(w io.Writer, s diff.SpaceSummary, changes []diff.Change) error {
	bw := bufio.NewWriter(w)
	textSpace(bw, s, changes)
	return bw.Flush()
}

func textSpace(bw *bufio.Writer, s diff.SpaceSummary, cs []diff.Change) {
	fmt.Fprintf(bw, "%s: %d desired, %d present", Printable(spaceTitle(s)), s.Desired, s.Current)
	if s.InvitedPending > 0 {
		fmt.Fprintf(bw, ", %s pending", plural(s.InvitedPending, "invitation", "invitations"))
	}
	fmt.Fprintln(bw)
	lines := make([]string, len(cs))
	width := 0
	for i, c := range cs {
		lines[i] = Printable(describe(c, cs))
		width = max(width, len([]rune(lines[i])))
	}
	for i, c := range cs {
		fmt.Fprintf(bw, "  %s %-*s", symbols[c.Action], width, lines[i])
		if o := outcome(c); o != "" {
			fmt.Fprintf(bw, "  [%s]", Printable(o))
		} else if c.Source != "" {
			fmt.Fprintf(bw, "  (%s)", Printable(c.Source))
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw)
}
