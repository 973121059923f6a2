package emulatortest

import (
	"fmt"
	"strings"
	"testing"
)

// The spreads lay addresses out as they say: what a prefix query must read
// depends on it, so a sweep over them means nothing if they don't.
func TestSpreads(t *testing.T) {
	const spaces, per, bystanders = 20, 10, 2000
	for _, tc := range []struct {
		spread  Spread
		domains int
		check   func(t *testing.T, named, others []string)
	}{
		{SpreadStems, 0, func(t *testing.T, named, others []string) {
			if named[0] != "p000001@example.com" || others[0] != "p000001-00@example.com" {
				t.Errorf("stems: first named %s, first bystander %s", named[0], others[0])
			}
		}},
		{SpreadEven, 0, func(t *testing.T, named, others []string) {
			for _, list := range [][]string{named, others} {
				if n := len(firstLetters(list)); n < 20 {
					t.Errorf("even: %d first letters among %d addresses", n, len(list))
				}
			}
			if n := sharedStems(named, others); n > len(others)/100 {
				t.Errorf("even: %d bystanders share a named address's stem", n)
			}
		}},
		{SpreadClustered, 0, func(t *testing.T, named, others []string) {
			if l := firstLetters(named); len(l) != 1 || !l['a'] {
				t.Errorf("clustered: named start with %v, want a alone", l)
			}
			if n := len(firstLetters(others)); n < 20 {
				t.Errorf("clustered: bystanders start with %d letters", n)
			}
		}},
		{SpreadInterleaved, 0, func(t *testing.T, named, others []string) {
			if n := sharedStems(named, others); n != len(others) {
				t.Errorf("interleaved: %d of %d bystanders share a named address's stem", n, len(others))
			}
		}},
		{SpreadEven, 3, func(t *testing.T, named, others []string) {
			at := map[string]int{}
			for _, e := range append(named, others...) {
				_, d, _ := strings.Cut(e, "@")
				at[d]++
			}
			if len(at) != 3 {
				t.Errorf("3 domains: addresses in %v", at)
			}
		}},
	} {
		name := tc.spread.String()
		if tc.domains > 1 {
			name += fmt.Sprintf("-%d-domains", tc.domains)
		}
		t.Run(name, func(t *testing.T) {
			w := World{Spaces: spaces, MembersPerSpace: per, Creates: 5, Bystanders: bystanders, Spread: tc.spread, Domains: tc.domains}
			seed, csv, min := w.Build()
			if min.Wanted != spaces*per+5 || min.DirectoryUsers != spaces*per+5+bystanders || len(seed.Users) != min.DirectoryUsers {
				t.Fatalf("wanted %d, Directory %d (%d users in the seed)", min.Wanted, min.DirectoryUsers, len(seed.Users))
			}
			var named, others []string
			distinct := map[string]bool{}
			for i, u := range seed.Users {
				distinct[u.Email] = true
				if i < min.Wanted {
					named = append(named, u.Email)
					if !strings.Contains(csv, ","+u.Email+",") {
						t.Fatalf("%s is not in the source", u.Email)
					}
				} else {
					others = append(others, u.Email)
				}
			}
			if len(distinct) != len(seed.Users) {
				t.Fatalf("%d distinct addresses among %d users", len(distinct), len(seed.Users))
			}
			tc.check(t, named, others)
			if again, _, _ := w.Build(); again.Users[len(again.Users)-1].Email != seed.Users[len(seed.Users)-1].Email {
				t.Error("two builds of one world differ")
			}
		})
	}
}

func firstLetters(emails []string) map[byte]bool {
	out := map[byte]bool{}
	for _, e := range emails {
		out[e[0]] = true
	}
	return out
}

// sharedStems counts the bystanders whose address starts with a named
// address's local part.
func sharedStems(named, others []string) int {
	stems := map[string]bool{}
	for _, e := range named {
		local, _, _ := strings.Cut(e, "@")
		stems[local] = true
	}
	n := 0
	for _, e := range others {
		local, _, _ := strings.Cut(e, "@")
		if stems[strings.TrimRight(local, "0123456789")] {
			n++
		}
	}
	return n
}
