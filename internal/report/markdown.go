package report

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/syncer-dev/syncer/internal/diff"
)

// foldAfter is how many changes a space shows before they go in <details>.
const foldAfter = 10

// Markdown writes the report for a review: a summary table, then one section
// per space with changes; long sections fold.
func Markdown(w io.Writer, plan diff.Plan) error {
	bw := bufio.NewWriter(w)
	s := plan.Summary
	title := "Chat membership plan"
	if plan.Applied {
		title = "Chat membership sync"
	}
	fmt.Fprintf(bw, "## %s\n\n", title)
	if len(plan.Blocked) > 0 {
		fmt.Fprintln(bw, "> [!CAUTION]")
		fmt.Fprintln(bw, "> **Blocked by a safety check: nothing was changed.**")
		for _, line := range plan.Blocked {
			fmt.Fprintf(bw, "> - %s\n", mdEscape(line))
		}
		fmt.Fprintln(bw)
	}
	if !plan.Complete() {
		fmt.Fprintln(bw, "> [!WARNING]")
		fmt.Fprintln(bw, "> **Incomplete.** This run could not see or do everything:")
		for _, line := range plan.Incomplete {
			fmt.Fprintf(bw, "> - %s\n", mdEscape(line))
		}
		for _, sp := range plan.Spaces {
			if !sp.Listed {
				fmt.Fprintf(bw, ">   - %s: not read: %s\n", mdEscape(spaceTitle(sp)), mdEscape(orUnknown(sp.Error)))
			}
		}
		fmt.Fprintln(bw)
	}
	fmt.Fprintln(bw, "| | count |")
	fmt.Fprintln(bw, "|---|---:|")
	rows := []struct {
		name string
		n    int
	}{{"to add", s.Create}, {"to change role", s.UpdateRole}, {"to remove", s.Delete}, {"removals pending", s.RemovalPending},
		{"protected from removal", s.Protected}, {"unchanged", s.Unchanged}, {"invitations pending", s.InvitedPending}}
	if plan.Applied {
		rows = append(rows, []struct {
			name string
			n    int
		}{{"applied", s.Applied}, {"already done", s.AlreadyDone}, {"failed", s.Failed}, {"skipped", s.Skipped}}...)
	}
	for _, r := range rows {
		fmt.Fprintf(bw, "| %s | %d |\n", r.name, r.n)
	}
	fmt.Fprintf(bw, "\n%s\n", planLine(plan))
	if n, names := newToSync(plan); n > 0 {
		fmt.Fprintf(bw, "\n%s new to policy sync (no completed sync run yet; removals there need `--allow-removals` once): %s.\n",
			plural(n, "space", "spaces"), mdEscape(names))
	}

	changes := bySpace(plan.Changes)
	for _, sp := range plan.Spaces {
		cs := changes[sp.Name]
		if len(cs) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### %s\n\n", mdEscape(spaceTitle(sp)))
		fmt.Fprintf(bw, "%d desired, %d present, %s pending.\n\n", sp.Desired, sp.Current, plural(sp.InvitedPending, "invitation", "invitations"))
		folded := len(cs) > foldAfter
		if folded {
			fmt.Fprintf(bw, "<details><summary>%s</summary>\n\n", plural(len(cs), "change", "changes"))
		}
		header := "| | member | role | source |\n|---|---|---|---|\n"
		if plan.Applied {
			header = "| | member | role | source | outcome |\n|---|---|---|---|---|\n"
		}
		bw.WriteString(header)
		for _, c := range cs {
			role := ""
			if c.Action == diff.UpdateRole {
				role = roleName(c.FromRole) + " → " + roleName(c.ToRole)
			}
			// Who, and for a removal why, as the text report says it.
			var why []string
			if c.Action == diff.Delete && c.Reason != "" {
				why = append(why, c.Reason)
			}
			if c.Successor != "" {
				why = append(why, "after "+successorName(c.Successor, cs)+" is owner")
			}
			who := c.Member
			if len(why) > 0 {
				who += " (" + strings.Join(why, "; ") + ")"
			}
			fmt.Fprintf(bw, "| %s | %s | %s | %s |", symbols[c.Action], mdEscape(who), role, mdEscape(c.Source))
			if plan.Applied {
				fmt.Fprintf(bw, " %s |", mdEscape(outcome(c)))
			}
			fmt.Fprintln(bw)
		}
		if folded {
			fmt.Fprintln(bw, "\n</details>")
		}
	}
	for _, list := range []struct {
		title string
		items []diff.Kept
	}{{"Removals pending", plan.Pending}, {"Not removed (why beside each)", plan.Protected}} {
		if len(list.items) == 0 {
			continue
		}
		fmt.Fprintf(bw, "\n### %s\n\n| space | member | why |\n|---|---|---|\n", list.title)
		for _, k := range list.items {
			fmt.Fprintf(bw, "| %s | %s | %s |\n", mdEscape(k.Space), mdEscape(k.Member), mdEscape(k.Why))
		}
	}
	if len(plan.Warnings) > 0 {
		fmt.Fprintln(bw, "\n### Warnings")
		fmt.Fprintln(bw)
		for _, warning := range plan.Warnings {
			fmt.Fprintf(bw, "- %s\n", mdEscape(warning))
		}
	}
	return bw.Flush()
}

// mdReplacer keeps a value in its cell and shows it as the characters it
// is: a backslash can't escape the pipe after it, and no code span, link,
// image, entity, HTML or emphasis with * or ~ comes out of a value (an
// underscore, common in addresses, is left: inside a word it is no
// emphasis).
var mdReplacer = strings.NewReplacer(`\`, `\\`, "|", `\|`, "<", "&lt;", ">", "&gt;", "&", "&amp;",
	"`", "\\`", "*", `\*`, "~", `\~`, "[", `\[`, "]", `\]`)

// mdEscape is a value as a review shows it: controls and line ends as
// Printable writes them (GitHub ends a table row at a carriage return
// too), then escaped.
func mdEscape(s string) string { return unmention(mdReplacer.Replace(Printable(s))) }

// unmention puts a zero-width space after an @ that starts a word: GitHub
// notifies whoever "@someone" or "@org/team" names in a comment, and a
// value is not ours to ping people with. An address's @, after its local
// part, mentions nobody and stays as it is.
func unmention(s string) string {
	if !strings.Contains(s, "@") {
		return s
	}
	var b strings.Builder
	prev := ' '
	for _, r := range s {
		b.WriteRune(r)
		if r == '@' && !(unicode.IsLetter(prev) || unicode.IsDigit(prev) || prev == '_') {
			b.WriteString("&#8203;")
		}
		prev = r
	}
	return b.String()
}
