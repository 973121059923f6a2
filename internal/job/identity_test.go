package job_test

import (
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/state"

	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/emulator/emulatortest"
	"github.com/syncer-dev/syncer/internal/identity"
)

func identitySeed() *emulator.Seed {
	return &emulator.Seed{
		Users: []emulator.SeedUser{
			{ID: "1", Email: "boss@example.com"},
			{ID: "2", Email: "alice@example.com", Aliases: []string{"ali@example.com"}},
			{ID: "3", Email: "bob@example.com"},
			{ID: "4", Email: "sus@example.com", Suspended: true},
			{ID: "5", Email: "ext@partner.test", External: true},
			{ID: "6", Email: "carol@example.com"},
		},
		Spaces: []emulator.SeedSpace{{Name: "spaces/S", Members: []emulator.SeedMember{
			{User: "boss@example.com", Role: "owner"}, {User: "alice@example.com"}, {User: "ext@partner.test"}, {User: "carol@example.com", Role: "manager"}}}},
	}
}

const identityCSV = "space,member,role\n" +
	"spaces/S,ali@example.com,manager\n" + // an alias of a member: a patch, not a create
	"spaces/S,bob@example.com,\n" + // not a member: a create
	"spaces/S,sus@example.com,\n" + // suspended: not added
	"spaces/S,ext@partner.test,\n" + // external member: the Directory can't know; a member read can
	"spaces/S,nobody@example.com,\n" + // unknown: fails alone
	"spaces/S,carol@example.com,manager\n" // already right

func TestIdentityWithEmailsHidden(t *testing.T) {
	f := newFixture(t, identitySeed(), emulator.Options{HideEmails: true}, identityCSV)
	f.resolve = true
	res, err := f.run(t, context.Background(), true)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, c := range res.Plan.Changes {
		got[string(c.Action)+" "+c.Member] = fmt.Sprintf("%s (id %s) %s via %s", c.Principal, c.ID, c.Status, c.ResolvedBy)
	}
	// Creates go by the address given; the ID the Directory found is kept for matching.
	want := map[string]string{
		"update_role ali@example.com": "users/2 (id users/2) applied via directory",
		"create bob@example.com":      "users/bob@example.com (id users/3) applied via directory",
		"create nobody@example.com":   "users/nobody@example.com (id ) failed via ",
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("changes\n got %v\nwant %v", got, want)
	}
	if w := strings.Join(res.Plan.Warnings, "\n"); !strings.Contains(w, "sus@example.com is suspended in the Directory; not added") {
		t.Errorf("warnings %q", res.Plan.Warnings)
	}
	st := f.em.Stats()
	if st.Requests["members.create 409"] != 0 || st.Count("members.get") != 2 {
		// two member reads: ext@ (found) and nobody@ (404); no write used as a probe
		t.Errorf("requests %v", st.Requests)
	}
	if res.Plan.Summary.Unchanged != 2 {
		t.Errorf("unchanged %d, want 2 (ext and carol)", res.Plan.Summary.Unchanged)
	}
}

func TestIdentityManyEmailsPageTheDirectory(t *testing.T) {
	// A converged state of 2,000 members over 50 spaces whose list answers
	// carry no emails costs the list calls and ceil(2,001 users / 500) = 5
	// Directory pages, and no write.
	seed, csv := world(2000, 50), &strings.Builder{}
	csv.WriteString("space,member,role\n")
	for i := 0; i < 2000; i++ {
		space := fmt.Sprintf("spaces/S%d", i%50)
		seed.Spaces[i%50].Members = append(seed.Spaces[i%50].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(csv, "%s,u%d@example.com,\n", space, i)
	}
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv.String())
	f.resolve = true
	res, err := f.run(t, context.Background(), true)
	if err != nil || !res.Plan.Empty() {
		t.Fatalf("%v; planned %d changes on a converged state", err, len(res.Plan.Changes))
	}
	st := f.em.Stats()
	// No spaces.get: the lists show owners, so every space is a named one.
	want := map[string]int{"members.list 200": 50, "directory.users.list 200": 5}
	if !reflect.DeepEqual(st.Requests, want) || st.Writes != 0 {
		t.Errorf("requests %v, writes %d; want exactly %v and no write", st.Requests, st.Writes, want)
	}
}

func TestIdentityCache(t *testing.T) {
	f := newFixture(t, identitySeed(), emulator.Options{HideEmails: true}, identityCSV)
	f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "ids.json")
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatal(err)
	}
	lookups := f.em.Stats().Count("directory.users.get") + f.em.Stats().Count("directory.users.list")
	if lookups == 0 {
		t.Fatal("the first run made no Directory lookup")
	}

	// Second run: everything the Directory said comes from the cache.
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatal(err)
	}
	if again := f.em.Stats().Count("directory.users.get") + f.em.Stats().Count("directory.users.list") - lookups; again != 1 {
		t.Errorf("second run made %d Directory lookups; want 1 (nobody@, which no cache can hold)", again)
	}

	t.Run("corrupt file is replaced, with a warning", func(t *testing.T) {
		os.WriteFile(f.cacheFile, []byte("{not json"), 0o600)
		f.logs = &strings.Builder{}
		defer func() { f.logs = nil }()
		if _, err := f.run(t, context.Background(), false); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(f.logs.String(), "is corrupt; starting empty") {
			t.Errorf("no warning:\n%s", f.logs)
		}
		c := identity.OpenCache(context.Background(), &state.Dir{Path: filepath.Dir(f.cacheFile)}, filepath.Base(f.cacheFile), time.Hour, nil, func(msg string) { t.Errorf("rebuilt cache unreadable: %s", msg) })
		c.DirectoryUsers() // waits for the read
	})

	t.Run("a stale entry is refreshed", func(t *testing.T) {
		// Claim bob is users/6 (carol's ID). With emails visible, the list shows
		// users/6 as carol, so the entry is dropped and bob resolved again.
		data, _ := os.ReadFile(f.cacheFile)
		if !strings.Contains(string(data), `"p":"users/3"`) {
			t.Fatalf("bob is not in the cache as users/3: %s", data)
		}
		os.WriteFile(f.cacheFile, []byte(strings.Replace(string(data), `"p":"users/3"`, `"p":"users/6"`, 1)), 0o600)
		g := newFixture(t, identitySeed(), emulator.Options{}, identityCSV)
		g.resolve, g.cacheFile = true, f.cacheFile
		res, err := g.run(t, context.Background(), false)
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range res.Plan.Changes {
			if c.Member == "bob@example.com" && (c.ID != "users/3" || c.ResolvedBy != "directory") {
				t.Errorf("bob resolved to %s via %s; the stale cache entry was trusted", c.ID, c.ResolvedBy)
			}
		}
	})
}

// BenchmarkConvergedIdentity reports what a converged run costs when list
// answers carry no emails: 2,000 members over 50 spaces. The target is the
// list calls plus ceil(users ÷ 500) Directory pages, and no write.
func BenchmarkConvergedIdentity(b *testing.B) {
	seed, csv := world(2000, 50), &strings.Builder{}
	csv.WriteString("space,member,role\n")
	for i := 0; i < 2000; i++ {
		seed.Spaces[i%50].Members = append(seed.Spaces[i%50].Members, emulator.SeedMember{User: fmt.Sprintf("u%d@example.com", i)})
		fmt.Fprintf(csv, "spaces/S%d,u%d@example.com,\n", i%50, i)
	}
	for i := 0; i < b.N; i++ {
		f := newFixture(b, seed, emulator.Options{HideEmails: true}, csv.String())
		f.resolve = true
		if _, err := f.run(b, context.Background(), true); err != nil {
			b.Fatal(err)
		}
		st := f.em.Stats()
		b.ReportMetric(float64(st.Count("members.list")), "lists")
		b.ReportMetric(float64(st.Count("directory.users.list")+st.Count("directory.users.get")), "directory-calls")
		b.ReportMetric(float64(st.Writes), "writes")
		fmt.Fprintf(os.Stderr, "converged identity: %d list calls, %d Directory calls (ceil(2,001 users / 500) = 5), %d member reads, %d writes\n",
			st.Count("members.list"), st.Count("directory.users.list")+st.Count("directory.users.get"), st.Count("members.get"), st.Writes)
	}
}

func TestIdentityCacheHoldsOnlyWhatCostACall(t *testing.T) {
	// Emails visible: alice is matched by the list for free, bob needs the Directory.
	f := newFixture(t, identitySeed(), emulator.Options{}, "space,member,role\nspaces/S,alice@example.com,\nspaces/S,bob@example.com,\n")
	f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "ids.json")
	if _, err := f.run(t, context.Background(), false); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(f.cacheFile)
	if !strings.Contains(string(data), "bob@example.com") || strings.Contains(string(data), "alice@example.com") {
		t.Errorf("want bob (a Directory answer) cached and alice (in the list) not:\n%s", data)
	}
}

// A first run (no cache, so the Directory's size is unknown) that wants 50
// addresses spread among 50,000 users: the pass's first pages show fewer
// than one wanted address in 600 users, so the rest cost a users.get each,
// side by side, not 100 pages. In a Directory that holds little more than
// the people wanted, the same run pages it.
func TestIdentitySparseDirectoryTurnsToGets(t *testing.T) {
	for _, tc := range []struct {
		name       string
		bystanders int
		maxPages   int
		minGets    int
	}{
		{"sparse", 50_000, 1, 40},
		{"dense", 500, 4, 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := emulatortest.World{Spaces: 10, MembersPerSpace: 5, Bystanders: tc.bystanders, Spread: emulatortest.SpreadEven}
			seed, csv, least := w.Build()
			f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
			slowLists(t, f, 200*time.Millisecond)
			f.resolve = true
			res, err := f.run(t, context.Background(), false)
			if err != nil || !res.Plan.Empty() || !res.Plan.Complete() {
				t.Fatalf("%v; planned %d changes on a converged state, incomplete %q", err, len(res.Plan.Changes), res.Plan.Incomplete)
			}
			st := f.em.Stats()
			pages, gets := st.Count("directory.users.list"), st.Count("directory.users.get")
			if pages > tc.maxPages || gets < tc.minGets || pages+gets > least.Wanted+tc.maxPages {
				t.Errorf("%d users.list pages and %d users.get for %d addresses among %d users; want at most %d pages, at least %d gets",
					pages, gets, least.Wanted, least.DirectoryUsers, tc.maxPages, tc.minGets)
			}
			if tc.minGets == 0 && gets != 0 {
				t.Errorf("%d users.get where pages show everyone", gets)
			}
		})
	}
}

// A first run that turned to gets read only the first page of a big
// Directory: its 500 users say little of the Directory's size (sorted by
// email, they may be a block of accounts no source names), so no size is
// recorded; recording those 500 made the next run page as if the
// Directory were small, and a size extrapolated from them could send
// every later run to gets where a pass is cheaper. The next run, wanting
// 20 more people, reads at most a page and asks users.get about the 20,
// not about the 50 the cache holds.
func TestSparseDirectoryPassRecordsNoSize(t *testing.T) {
	w := emulatortest.World{Spaces: 10, MembersPerSpace: 5, Bystanders: 50_000, Spread: emulatortest.SpreadEven}
	seed, csv, least := w.Build()
	f := newFixture(t, seed, emulator.Options{HideEmails: true}, csv)
	slowLists(t, f, 200*time.Millisecond)
	f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "ids.json")
	if res, err := f.run(t, context.Background(), false); err != nil || !res.Plan.Empty() {
		t.Fatalf("first run: %v", err)
	}
	if gets := f.em.Stats().Count("directory.users.get"); gets != least.Wanted {
		t.Fatalf("the first run made %d users.get for %d addresses among %d users", gets, least.Wanted, least.DirectoryUsers)
	}
	data, _ := os.ReadFile(f.cacheFile)
	var recorded struct {
		DirectoryUsers int `json:"directory_users"`
	}
	if err := json.Unmarshal(data, &recorded); err != nil || recorded.DirectoryUsers != 0 {
		t.Fatalf("the cache records a Directory of %d users (%v) from a pass that read its first page", recorded.DirectoryUsers, err)
	}
	more := &strings.Builder{}
	more.WriteString(csv)
	for _, u := range seed.Users[least.Wanted : least.Wanted+20] {
		fmt.Fprintf(more, "spaces/W00000,%s,\n", u.Email)
	}
	os.WriteFile(filepath.Join(filepath.Dir(f.cfg.Path), "members.csv"), []byte(more.String()), 0o644)
	before := f.em.Stats()
	res, err := f.run(t, context.Background(), false)
	if err != nil || len(res.Plan.Changes) != 20 || !res.Plan.Complete() {
		t.Fatalf("second run: %v; %d changes, want 20 creates; incomplete %q", err, len(res.Plan.Changes), res.Plan.Incomplete)
	}
	after := f.em.Stats()
	pages := after.Count("directory.users.list") - before.Count("directory.users.list")
	gets := after.Count("directory.users.get") - before.Count("directory.users.get")
	if pages > 1 || gets != 20 {
		t.Errorf("second run: %d users.list pages and %d users.get for 20 new addresses (50 cached); want at most 1 and 20", pages, gets)
	}
}

// slowLists makes the fixture's list calls answer in d. At 200 ms, as
// Chat's do, the pass reads the same pace (and with it how many addresses
// it may hand to gets after one page) whether it measures the latency
// before or after the first list answers.
func slowLists(t testing.TB, f *fixture, d time.Duration) {
	h := f.em.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/members") {
			time.Sleep(d)
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	f.url = srv.URL + "/"
}

// Lists without emails send most addresses to the Directory. A first run
// can't know whether its lists will carry emails, so the pass's first page
// is asked for beside the first lists, not one list answer later; a run
// whose lists carried every email records it, and the next asks the
// Directory nothing it doesn't need.
func TestIdentityPassStartsBesideTheFirstLists(t *testing.T) {
	w := emulatortest.World{Spaces: 10, MembersPerSpace: 50, Spread: emulatortest.SpreadEven}
	t.Run("lists without emails", func(t *testing.T) {
		seed, csv, least := w.Build()
		f := newFixture(t, seed, emulator.Options{HideEmails: true, LatencyMin: 50 * time.Millisecond, LatencyMax: 50 * time.Millisecond}, csv)
		var tl emulatortest.Timeline
		srv := httptest.NewServer(tl.Wrap(f.em.Handler()))
		t.Cleanup(srv.Close)
		f.url, f.resolve = srv.URL+"/", true
		res, err := f.run(t, context.Background(), false)
		if err != nil || !res.Plan.Empty() || !res.Plan.Complete() {
			t.Fatalf("%v; planned %d changes on a converged state, incomplete %q", err, len(res.Plan.Changes), res.Plan.Incomplete)
		}
		firstAnswer, firstPage := time.Duration(math.MaxInt64), time.Duration(math.MaxInt64)
		for _, c := range tl.Calls() {
			switch c.Kind {
			case emulatortest.KindList:
				firstAnswer = min(firstAnswer, c.End)
			case emulatortest.KindDirectoryList:
				firstPage = min(firstPage, c.Start)
			}
		}
		if firstPage >= firstAnswer {
			t.Errorf("the Directory's first page was asked for at %v, after the first list answered (%v)", firstPage, firstAnswer)
		}
		if pages := f.em.Stats().Count("directory.users.list"); pages != least.DirectoryPages {
			t.Errorf("%d Directory pages, want %d (one whole pass)", pages, least.DirectoryPages)
		}
	})
	t.Run("lists with emails", func(t *testing.T) {
		seed, csv, _ := w.Build()
		f := newFixture(t, seed, emulator.Options{}, csv)
		slowLists(t, f, 100*time.Millisecond) // the early page lands first
		f.resolve, f.cacheFile = true, filepath.Join(t.TempDir(), "ids.json")
		f.logs = &strings.Builder{}
		for run := 1; run <= 2; run++ {
			before := f.em.Stats().Count("directory.users.list") + f.em.Stats().Count("directory.users.get")
			res, err := f.run(t, context.Background(), false)
			if err != nil || !res.Plan.Empty() || !res.Plan.Complete() {
				t.Fatalf("run %d: %v; planned %d changes on a converged state", run, err, len(res.Plan.Changes))
			}
			calls := f.em.Stats().Count("directory.users.list") + f.em.Stats().Count("directory.users.get") - before
			// The first run's early pass stops after its first page:
			// the lists settle everyone.
			if want := 2 - run; calls > want {
				t.Errorf("run %d made %d Directory calls; want at most %d", run, calls, want)
			}
		}
		data, _ := os.ReadFile(f.cacheFile)
		if !strings.Contains(string(data), `"lists_show_emails":true`) {
			t.Errorf("the cache does not record that lists showed emails:\n%.200s", data)
		}
		// The lists settled everyone: the early page is not counted as
		// the Directory's work, nor kept in the cache as if it had been.
		if strings.Contains(string(data), `"e":`) {
			t.Errorf("the cache holds entries the lists settled:\n%.200s", data)
		}
		first := ""
		for line := range strings.Lines(f.logs.String()) {
			if strings.Contains(line, "identities resolved") {
				first = line
				break
			}
		}
		if !strings.Contains(first, "by_directory=0 ") || strings.Contains(first, "shown_by_unneeded_pass=0") {
			t.Errorf("first run: want by_directory=0 and the early page's finds counted apart:\n%s", first)
		}
	})
}

// An early pass whose queries each end on their first page (3,000
// addresses: split by first letter) ends before the first list answers.
// The lists carry emails, so it is wanted only when lookups come for the
// addresses they don't show. It has read the whole Directory by then: it
// is adopted at once, settles what it owes (a get about to start leaves
// its address to it: unsettled, its space would wait until the run's
// deadline), and says who is not in the Directory without a users.get.
func TestIdentityEarlyPassAdoptedAfterItEnded(t *testing.T) {
	// 3,000 addresses: the pass is split by first letter, each query a
	// page; 10 people outside the Directory, one in each of 10 spaces.
	w := emulatortest.World{Spaces: 30, MembersPerSpace: 100, Spread: emulatortest.SpreadEven}
	seed, csv, _ := w.Build()
	var b strings.Builder
	b.WriteString(csv)
	for _, sp := range seed.Spaces[:10] {
		fmt.Fprintf(&b, "%s,ext-%s@gmail.com,\n", sp.Name, strings.TrimPrefix(sp.Name, "spaces/"))
	}
	f := newFixture(t, seed, emulator.Options{}, b.String())
	// Lists answer once the emulator has answered the pass's last page (a
	// query per first letter, each a page), and the syncer has had 100 ms
	// to read it. A 300 ms sleep from the start let the pass run past it
	// now and then on a loaded machine.
	letters := map[byte]bool{}
	for _, line := range strings.Split(strings.TrimSpace(b.String()), "\n")[1:] {
		_, member, _ := strings.Cut(line, ",")
		letters[member[0]] = true
	}
	watch := passWatch{queries: len(letters)}
	h := watch.wrap(f.em.Handler())
	srv := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/members") {
			watch.waitEnded(t, 10*time.Second)
			time.Sleep(100 * time.Millisecond) // for the syncer to read the last pages
		}
		h.ServeHTTP(rw, r)
	}))
	t.Cleanup(srv.Close)
	f.url, f.resolve = srv.URL+"/", true
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	res, err := f.run(t, ctx, false)
	if err != nil || ctx.Err() != nil || !res.Plan.Complete() {
		t.Fatalf("%v (deadline: %v); incomplete: %q", err, ctx.Err(), res.Plan.Incomplete)
	}
	if got := res.Plan.Summary.Create; got != 10 {
		t.Errorf("%d creates, want 10 (the outside addresses)", got)
	}
	// The pass read the whole Directory: it says who is not in it, and
	// no users.get asks again.
	if gets := f.em.Stats().Count("directory.users.get"); gets != 0 {
		t.Errorf("%d users.get calls after a whole pass", gets)
	}
}

// passWatch counts the Directory's users.list queries begun (a call with
// no pageToken) and ended (an answer with no nextPageToken).
type passWatch struct {
	queries      int // how many to wait for
	mu           sync.Mutex
	begun, ended int
}

var nextToken = regexp.MustCompile(`"nextPageToken":\s*"[^"]`)

func (w *passWatch) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet || !strings.HasSuffix(r.URL.Path, "/admin/directory/v1/users") {
			h.ServeHTTP(rw, r)
			return
		}
		if r.URL.Query().Get("pageToken") == "" {
			w.mu.Lock()
			w.begun++
			w.mu.Unlock()
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		if rec.Code == http.StatusOK && !nextToken.Match(rec.Body.Bytes()) {
			w.mu.Lock()
			w.ended++
			w.mu.Unlock()
		}
		for k, v := range rec.Header() {
			rw.Header()[k] = v
		}
		rw.WriteHeader(rec.Code)
		rw.Write(rec.Body.Bytes())
	})
}

// waitEnded returns once the queries have begun and every one has ended.
func (w *passWatch) waitEnded(t testing.TB, limit time.Duration) {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		w.mu.Lock()
		done := w.begun >= w.queries && w.begun == w.ended
		w.mu.Unlock()
		if done {
			return
		}
	}
	t.Errorf("the Directory pass's queries did not all end within %v", limit)
}
