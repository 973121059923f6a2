package emulator_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/syncer-dev/syncer/internal/chatapi"
	"github.com/syncer-dev/syncer/internal/emulator"
	"github.com/syncer-dev/syncer/internal/membership"
)

func f() *bool { b := false; return &b }

func seed() *emulator.Seed {
	return &emulator.Seed{
		Users: []emulator.SeedUser{
			{ID: "1", Email: "owner@example.com"},
			{ID: "2", Email: "alice@example.com", Aliases: []string{"ali@example.com"}, NonEditableAliases: []string{"alice@example.org"}},
			{ID: "3", Email: "shy@example.com", AutoAccept: f()},
			{ID: "4", Email: "gone@example.com", Suspended: true},
			{ID: "5", Email: "ext@partner.test", External: true},
		},
		Groups: []emulator.SeedGroup{{ID: "eng"}},
		Spaces: []emulator.SeedSpace{
			{Name: "spaces/S", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}, {App: true}}},
			{Name: "spaces/GRP", Members: []emulator.SeedMember{{User: "owner@example.com", Role: "owner"}, {Group: "eng"}}},
			{Name: "spaces/G", Type: "GROUP_CHAT", Members: []emulator.SeedMember{{User: "owner@example.com"}}},
			{Name: "spaces/DM", Type: "DIRECT_MESSAGE", Members: []emulator.SeedMember{{User: "owner@example.com"}, {User: "alice@example.com"}}},
		},
	}
}

func start(t *testing.T, s *emulator.Seed, opts emulator.Options, api chatapi.Options) (*emulator.Server, *chatapi.Client, string) {
	t.Helper()
	em, err := emulator.New(s, opts)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(em.Handler())
	t.Cleanup(ts.Close)
	api.Endpoint = ts.URL + "/"
	c, err := chatapi.New(context.Background(), api)
	if err != nil {
		t.Fatal(err)
	}
	return em, c, ts.URL
}

func listAll(t *testing.T, c *chatapi.Client, space string) []membership.Membership {
	t.Helper()
	var all []membership.Membership
	token := ""
	for {
		page, next, err := c.ListPage(context.Background(), space, token)
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, page...)
		if next == "" {
			return all
		}
		token = next
	}
}

func TestMembershipLifecycle(t *testing.T) {
	em, c, _ := start(t, seed(), emulator.Options{}, chatapi.Options{ShowInvited: true, ShowGroups: true})
	ctx := context.Background()

	m, err := c.Create(ctx, "spaces/S", membership.User("ALI@example.com")) // an alias, any case
	if err != nil {
		t.Fatal(err)
	}
	if m.Principal != "users/2" || m.Name != "spaces/S/members/2" || m.Role != membership.RoleMember || m.State != membership.StateJoined {
		t.Errorf("create answered %+v; want canonical users/2, ROLE_MEMBER, JOINED", m)
	}
	if _, err := c.Create(ctx, "spaces/S", membership.User("2")); !errors.Is(err, chatapi.ErrAlreadyExists) {
		t.Errorf("second create: %v, want ALREADY_EXISTS", err)
	}
	shy, err := c.Create(ctx, "spaces/S", membership.User("shy@example.com"))
	if err != nil || shy.State != membership.StateInvited {
		t.Errorf("auto-accept off: %+v %v, want INVITED", shy, err)
	}
	if _, err := c.Create(ctx, "spaces/S", membership.User("3")); !errors.Is(err, chatapi.ErrAlreadyExists) {
		t.Errorf("create over an invitation: %v, want ALREADY_EXISTS", err)
	}
	if _, err := c.Create(ctx, "spaces/S", membership.Group("eng")); err != nil {
		t.Errorf("group in a named space: %v", err)
	}
	if p, err := c.PatchRole(ctx, "spaces/S/members/alice@example.com", membership.RoleManager); err != nil || p.Role != membership.RoleManager {
		t.Errorf("patch by email alias: %+v %v", p, err)
	}
	if g, err := c.Get(ctx, "spaces/S", "ali@example.com"); err != nil || g.Principal != "users/2" || g.Email != "alice@example.com" {
		t.Errorf("get by alias: %+v %v", g, err)
	}
	if app, err := c.Get(ctx, "spaces/S", "app"); err != nil || !app.Bot {
		t.Errorf("get app: %+v %v", app, err)
	}

	got := listAll(t, c, "spaces/S")
	if len(got) != 5 {
		t.Errorf("list with invited and groups: %d memberships, want 5: %+v", len(got), got)
	}
	if err := c.Delete(ctx, "spaces/S/members/alice@example.com"); err != nil {
		t.Errorf("delete by alias: %v", err)
	}
	if err := c.Delete(ctx, "spaces/S/members/2"); !errors.Is(err, chatapi.ErrNotFound) {
		t.Errorf("second delete: %v, want NOT_FOUND", err)
	}
	if st := em.Stats(); st.Creates["spaces/S users/2"] != 1 || st.Count("members.create") != 5 {
		t.Errorf("stats %+v", st)
	}
}

func TestRefusals(t *testing.T) {
	_, c, _ := start(t, seed(), emulator.Options{}, chatapi.Options{})
	ctx := context.Background()
	tests := []struct {
		name string
		do   func() error
		kind error
		text string
	}{
		{"unknown user", func() error { _, err := c.Create(ctx, "spaces/S", membership.User("nobody@example.com")); return err }, chatapi.ErrNotFound, "not found"},
		{"suspended user", func() error { _, err := c.Create(ctx, "spaces/S", membership.User("gone@example.com")); return err }, chatapi.ErrPermanent, "FAILED_PRECONDITION"},
		{"group in a group chat", func() error { _, err := c.Create(ctx, "spaces/G", membership.Group("eng")); return err }, chatapi.ErrPermanent, "named spaces"},
		{"owner in a group chat", func() error { _, err := c.PatchRole(ctx, "spaces/G/members/1", membership.RoleOwner); return err }, chatapi.ErrPermanent, "Only ROLE_MEMBER"},
		{"demote the last owner", func() error { _, err := c.PatchRole(ctx, "spaces/S/members/1", membership.RoleMember); return err }, chatapi.ErrPermanent, "last owner"},
		{"remove the last owner", func() error { return c.Delete(ctx, "spaces/S/members/1") }, chatapi.ErrPermanent, "last owner"},
		{"unknown space", func() error { _, _, err := c.ListPage(ctx, "spaces/NOPE", ""); return err }, chatapi.ErrNotFound, "not found"},
		{"patch a missing member", func() error { _, err := c.PatchRole(ctx, "spaces/S/members/999", membership.RoleOwner); return err }, chatapi.ErrNotFound, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.do()
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.text) {
				t.Errorf("err = %v, want kind %v containing %q", err, tt.kind, tt.text)
			}
		})
	}
}

func TestListPagingAndVisibility(t *testing.T) {
	s := seed()
	sp := emulator.SeedSpace{Name: "spaces/BIG"}
	for i := 0; i < 2500; i++ {
		email := fmt.Sprintf("u%d@example.com", i)
		s.Users = append(s.Users, emulator.SeedUser{ID: fmt.Sprint(1000 + i), Email: email})
		state := "JOINED"
		if i%10 == 0 {
			state = "INVITED"
		}
		sp.Members = append(sp.Members, emulator.SeedMember{User: email, State: state})
	}
	sp.Members = append(sp.Members, emulator.SeedMember{Group: "eng"}, emulator.SeedMember{User: "owner@example.com", Role: "owner"})
	s.Spaces = append(s.Spaces, sp)

	for _, tc := range []struct {
		name  string
		opts  chatapi.Options
		want  int
		pages int
	}{
		{"default hides invited and groups", chatapi.Options{}, 2251, 3},
		{"showInvited and showGroups", chatapi.Options{ShowInvited: true, ShowGroups: true}, 2502, 3},
		{"admin access", chatapi.Options{UseAdminAccess: true, ShowInvited: true}, 2501, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			em, c, _ := start(t, s, emulator.Options{}, tc.opts)
			if got := len(listAll(t, c, "spaces/BIG")); got != tc.want {
				t.Errorf("%d memberships, want %d", got, tc.want)
			}
			if n := em.Stats().Count("members.list"); n != tc.pages {
				t.Errorf("%d list calls, want %d (pageSize 1000)", n, tc.pages)
			}
		})
	}
}

func TestRawRequests(t *testing.T) {
	_, _, base := start(t, seed(), emulator.Options{}, chatapi.Options{})
	tests := []struct {
		name, method, path, body string
		code                     int
		text                     string
	}{
		{"unknown query parameter", "GET", "/v1/spaces/S/members?pagesize=5", "", 400, "Unknown name"},
		{"negative page size", "GET", "/v1/spaces/S/members?pageSize=-1", "", 400, "pageSize"},
		{"huge page size is clamped", "GET", "/v1/spaces/S/members?pageSize=5000", "", 200, "users/1"},
		{"bad page token", "GET", "/v1/spaces/S/members?pageToken=xyz", "", 400, "page token"},
		{"admin access needs a human filter", "GET", "/v1/spaces/S/members?useAdminAccess=true", "", 400, "member.type"},
		{"contradictory filter", "GET", "/v1/spaces/S/members?filter=" + urlq(`member.type = "HUMAN" AND member.type = "BOT"`), "", 400, "Contradictory"},
		{"role filter", "GET", "/v1/spaces/S/members?filter=" + urlq(`role = "ROLE_MANAGER"`), "", 200, "ROLE_MANAGER"},
		{"patch without updateMask", "PATCH", "/v1/spaces/S/members/1", `{"role":"ROLE_MEMBER"}`, 400, "updateMask"},
		{"create with both member and group", "POST", "/v1/spaces/S/members", `{"member":{"name":"users/2","type":"HUMAN"},"groupMember":{"name":"groups/eng"}}`, 400, "Exactly one"},
		{"create ignores the body's role", "POST", "/v1/spaces/S/members", `{"member":{"name":"users/2","type":"HUMAN"},"role":"ROLE_MANAGER"}`, 200, `"role":"ROLE_MEMBER"`},
		{"spaces.get", "GET", "/v1/spaces/G", "", 200, `"spaceType":"GROUP_CHAT"`},
		{"directory get by alias", "GET", "/admin/directory/v1/users/ali@example.com", "", 200, `"id":"2"`},
		{"directory: an address in a domain the customer doesn't own", "GET", "/admin/directory/v1/users/ext@partner.test", "", 403, `"reason":"forbidden"`},
		{"directory: nobody in the customer's domain", "GET", "/admin/directory/v1/users/nobody@example.com", "", 404, "Resource Not Found: userKey"},
		{"directory: an alias-domain address", "GET", "/admin/directory/v1/users/alice@example.org", "", 200, `"nonEditableAliases":["alice@example.org"]`},
		{"users.list by email prefix", "GET", "/admin/directory/v1/users?customer=my_customer&query=email:ali*", "", 200, `"primaryEmail":"alice@example.com"`},
		{"users.list by prefix matches aliases", "GET", "/admin/directory/v1/users?customer=my_customer&query=email:ali@*", "", 200, `"id":"2"`},
		{"users.list of one domain the customer has", "GET", "/admin/directory/v1/users?domain=example.com&maxResults=1&fields=users(primaryEmail)", "", 200, `{"users":[{"primaryEmail":"alice@example.com"}]}`},
		{"users.list of a domain the customer doesn't have", "GET", "/admin/directory/v1/users?domain=partner.test&maxResults=1", "", 403, `"reason":"forbidden"`},
		{"users.list query it can't parse", "GET", "/admin/directory/v1/users?customer=my_customer&query=givenName:Al*", "", 400, "Invalid Input"},
		{"fields is a system parameter every method takes", "GET", "/v1/spaces/S/members?fields=memberships(name)", "", 200, `{"memberships":[{"name":"spaces/S/members/1"},`},
		{"fields selects what it names and nothing else", "GET", "/v1/spaces/S/members?fields=memberships(role,member/name)", "", 200, `{"memberships":[{"role":"ROLE_MANAGER","member":{"name":"users/1"}},`},
		{"fields: a field the resource does not have", "GET", "/v1/spaces/S/members?fields=memberships(member/nickname)", "", 400, "Invalid field selection memberships/member/nickname"},
		{"fields: inside a string", "GET", "/v1/spaces/S/members?fields=memberships/name/x", "", 400, "Invalid field selection memberships/name/x"},
		{"fields: unbalanced", "GET", "/v1/spaces/S/members?fields=memberships(name", "", 400, "closing parenthesis"},
		{"fields: one Google has that the emulator never fills", "GET", "/v1/spaces/S/members?fields=memberships/deleteTime", "", 200, `{"memberships":[{},{},{}]}`},
		{"fields: proto names too", "GET", "/v1/spaces/S/members?pageSize=1&fields=next_page_token", "", 200, `{"nextPageToken":"`},
		{"fields on users.get", "GET", "/admin/directory/v1/users/ali@example.com?fields=id,primaryEmail", "", 200, `{"id":"2","primaryEmail":"alice@example.com"}` + "\n"},
		{"fields on users.list", "GET", "/admin/directory/v1/users?customer=my_customer&query=email:ali*&fields=users(id)", "", 200, `{"users":[{"id":"2"}]}` + "\n"},
		{"a write with a bad fields mask is refused", "POST", "/v1/spaces/S/members?fields=bogus", `{"member":{"name":"users/3","type":"HUMAN"}}`, 400, "Invalid field selection bogus"},
		{"before it is made", "GET", "/v1/spaces/S/members/3", "", 404, "NOT_FOUND"},
		{"updateMask * means role", "PATCH", "/v1/spaces/S/members/1?updateMask=*", `{"role":"ROLE_MANAGER"}`, 200, "ROLE_MANAGER"},
		{"updateMask of another field", "PATCH", "/v1/spaces/S/members/1?updateMask=state", `{"role":"ROLE_MANAGER"}`, 400, "only role"},
		{"create an outsider by ID", "POST", "/v1/spaces/S/members", `{"member":{"name":"users/5","type":"HUMAN"}}`, 400, "add them by email"},
		{"create an outsider by email", "POST", "/v1/spaces/S/members", `{"member":{"name":"users/ext@partner.test","type":"HUMAN"}}`, 200, `"name":"users/5"`},
		{"admin access can't read the app's membership", "GET", "/v1/spaces/S/members/app?useAdminAccess=true", "", 400, "admin access"},
		{"a group membership is not named by the group's ID", "GET", "/v1/spaces/GRP/members/eng", "", 404, "NOT_FOUND"},
		{"a group membership by the name the API gives it", "GET", "/v1/spaces/GRP/members/group-eng", "", 200, `"groupMember":{"name":"groups/eng"}`},
		// Documented on the reference pages (2026-12-07):
		{"an invitation shows no email", "POST", "/v1/spaces/S/members", `{"member":{"name":"users/shy@example.com","type":"HUMAN"}}`, 200, `"state":"INVITED","role":"ROLE_MEMBER","member":{"name":"users/3","type":"HUMAN"},`},
		{"a create needs member.type", "POST", "/v1/spaces/S/members", `{"member":{"name":"users/alice@example.com"}}`, 400, "HUMAN"},
		{"the app can join a DM", "POST", "/v1/spaces/DM/members", `{"member":{"name":"users/app","type":"BOT"}}`, 200, `"name":"users/app"`},
		{"a person can't join a DM", "POST", "/v1/spaces/DM/members", `{"member":{"name":"users/alice@example.com","type":"HUMAN"}}`, 400, "direct message"},
		{"admin access can't delete the app's membership", "DELETE", "/v1/spaces/S/members/app?useAdminAccess=true", "", 400, "admin access"},
		{"admin access takes no other member.type filter", "GET", "/v1/spaces/S/members?useAdminAccess=true&filter=" + urlq(`member.type = "HUMAN" OR member.type = "BOT"`), "", 400, "member.type"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, strings.NewReader(tt.body))
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tt.code || !strings.Contains(string(b), tt.text) {
				t.Errorf("%d %s; want %d containing %q", resp.StatusCode, b, tt.code, tt.text)
			}
		})
	}
}

// The Directory refuses over quota as the Admin SDK documents (Directory
// API, Limits and quotas): 403 with reason userRateLimitExceeded. The
// client must read that as quota, to retry, not as a refusal.
func TestDirectoryQuotaAnswersAsTheAdminSDKDoes(t *testing.T) {
	em, _, url := start(t, seed(), emulator.Options{QuotaScale: 0.01, QuotaBucket: true, QuotaBurst: 3}, chatapi.Options{})
	var refused *http.Response
	for i := 0; i < 20 && refused == nil; i++ {
		resp, err := http.Get(url + "/admin/directory/v1/users/alice@example.com")
		if err != nil {
			t.Fatal(err)
		}
		if resp.StatusCode != http.StatusOK {
			refused = resp
			break
		}
		resp.Body.Close()
	}
	if refused == nil {
		t.Fatal("20 users.get calls at once with a burst of 3: none refused")
	}
	defer refused.Body.Close()
	var body struct {
		Error struct {
			Code   int
			Errors []struct{ Reason string }
		}
	}
	if err := json.NewDecoder(refused.Body).Decode(&body); err != nil {
		t.Fatal(err)
	}
	if refused.StatusCode != http.StatusForbidden || len(body.Error.Errors) == 0 || body.Error.Errors[0].Reason != "userRateLimitExceeded" {
		t.Errorf("over quota: %d %+v, want 403 userRateLimitExceeded", refused.StatusCode, body.Error)
	}
	if em.Stats().QuotaRejections == 0 {
		t.Error("the refusal was not counted as a quota refusal")
	}
	dir, err := chatapi.NewDirectory(context.Background(), url+"/", chatapi.Options{})
	if err != nil {
		t.Fatal(err)
	}
	_, err = dir.User(context.Background(), "alice@example.com")
	if !errors.Is(err, chatapi.ErrQuota) {
		t.Errorf("the client read the over-quota answer as %v, want quota", err)
	}
}

func urlq(s string) string {
	return strings.NewReplacer(" ", "%20", `"`, "%22", "=", "%3D", "!", "%21").Replace(s)
}

func TestQuotaIsEnforced(t *testing.T) {
	// At scale 30 a "minute" is 2 s: 300 writes fit, the 301st is refused
	// (2 s leaves a slow, loaded CI machine room to make 301 calls).
	em, c, _ := start(t, seed(), emulator.Options{QuotaScale: 30}, chatapi.Options{})
	ctx := context.Background()
	var quota int
	for i := 0; i < 301; i++ {
		_, err := c.PatchRole(ctx, "spaces/S/members/1", membership.RoleOwner)
		if errors.Is(err, chatapi.ErrQuota) {
			quota++
		} else if err != nil {
			t.Fatal(err)
		}
	}
	if quota == 0 || em.Stats().QuotaRejections != quota {
		t.Errorf("301 writes within 2 s: %d quota errors, emulator counted %d", quota, em.Stats().QuotaRejections)
	}
	time.Sleep(2050 * time.Millisecond)
	if _, err := c.PatchRole(ctx, "spaces/S/members/1", membership.RoleOwner); err != nil {
		t.Errorf("after the window: %v", err)
	}
}

func TestFaultsAreClassified(t *testing.T) {
	for _, fault := range emulator.AllFaults {
		t.Run(string(fault), func(t *testing.T) {
			em, c, _ := start(t, seed(), emulator.Options{FaultRate: 1, Faults: []emulator.Fault{fault}, Seed: 1}, chatapi.Options{})
			_, err := c.Create(context.Background(), "spaces/S", membership.User("alice@example.com"))
			if !chatapi.Retryable(err) {
				t.Errorf("%s: %v is not retryable", fault, err)
			}
			applied := em.Stats().Creates["spaces/S users/2"]
			if want := map[bool]int{true: 1, false: 0}[fault == emulator.FaultAppliedThen500]; applied != want {
				t.Errorf("%s: the create was applied %d times, want %d", fault, applied, want)
			}
		})
	}
}

func TestDemoSeedLoads(t *testing.T) {
	s, err := emulator.LoadSeed("../../testdata/seed.yaml")
	if err != nil {
		t.Fatal(err)
	}
	em, err := emulator.New(s, emulator.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap := em.Snapshot()
	if len(snap) != 4 || len(snap["spaces/ENGINEERING"]) != 5 {
		t.Errorf("demo seed: %d spaces, ENGINEERING %v", len(snap), snap["spaces/ENGINEERING"])
	}
}

// users.list email:PREFIX* reads an index of every address; it must answer
// what a look at every user would: primaries and aliases under the prefix,
// each user once, sorted, external users never, other clauses applied.
func TestUsersListByEmailPrefix(t *testing.T) {
	s := &emulator.Seed{}
	for i := 0; i < 60; i++ {
		s.Users = append(s.Users, emulator.SeedUser{ID: fmt.Sprint(100 + i), Email: fmt.Sprintf("u%02d@example.com", i),
			Aliases:  []string{fmt.Sprintf("a%02d@example.com", 59-i), fmt.Sprintf("u%02dx@example.com", i)},
			External: i == 7, Suspended: i%10 == 3, Archived: i%10 == 4, OrgUnit: fmt.Sprintf("/U%d", i%2)})
	}
	em, _, base := start(t, s, emulator.Options{}, chatapi.Options{})
	want := func(prefix string, keep func(i int) bool) []string {
		var ids []string
		for i := 0; i < 60; i++ {
			addrs := []string{fmt.Sprintf("u%02d@example.com", i), fmt.Sprintf("a%02d@example.com", 59-i), fmt.Sprintf("u%02dx@example.com", i)}
			if i != 7 && keep(i) && slices.ContainsFunc(addrs, func(a string) bool { return strings.HasPrefix(a, prefix) }) {
				ids = append(ids, fmt.Sprint(100+i))
			}
		}
		return ids
	}
	all := func(int) bool { return true }
	check := func(query string, want []string) {
		t.Helper()
		resp, err := http.Get(base + "/admin/directory/v1/users?customer=my_customer&maxResults=500&query=" + url.QueryEscape(query))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var page struct {
			Users []struct {
				ID    string `json:"id"`
				Email string `json:"primaryEmail"`
			} `json:"users"`
		}
		json.NewDecoder(resp.Body).Decode(&page)
		var got []string
		for i, u := range page.Users {
			if i > 0 && u.Email <= page.Users[i-1].Email {
				t.Errorf("%s: not sorted by email at %s", query, u.Email)
			}
			got = append(got, u.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("%s: %v, want %v", query, got, want)
		}
	}
	for _, prefix := range []string{"u0", "u05", "u05x", "a0", "a5", "u", "a", "x", "u59@"} {
		check("email:"+prefix+"*", want(prefix, all))
	}
	check("email:u1* isSuspended=false", want("u1", func(i int) bool { return i%10 != 3 }))
	// isArchived is a documented boolean field like isSuspended
	// (https://developers.google.com/workspace/admin/directory/v1/guides/search-users).
	check("email:u1* isArchived=false", want("u1", func(i int) bool { return i%10 != 4 }))
	check("email:u* isArchived=True", want("u", func(i int) bool { return i%10 == 4 }))
	check("email:a* orgUnitPath='/U1'", want("a", func(i int) bool { return i%2 == 1 }))
	// The Directory changes between runs: the answer follows.
	if err := em.MoveUser("u01@example.com", "/U0"); err != nil {
		t.Fatal(err)
	}
	check("email:a* orgUnitPath='/U1'", want("a", func(i int) bool { return i%2 == 1 && i != 1 }))
}

func TestMisbehaveAtOneCall(t *testing.T) {
	method, m, err := emulator.ParseMisbehaviour("members.list=429,at-call:2")
	if err != nil {
		t.Fatal(err)
	}
	em, c, _ := start(t, seed(), emulator.Options{}, chatapi.Options{})
	em.SetMisbehaviour(method, m)
	var got []bool
	for i := 0; i < 3; i++ {
		_, _, err := c.ListPage(context.Background(), "spaces/S", "")
		if err != nil && !errors.Is(err, chatapi.ErrQuota) {
			t.Fatal(err)
		}
		got = append(got, errors.Is(err, chatapi.ErrQuota))
	}
	if !slices.Equal(got, []bool{false, true, false}) {
		t.Errorf("429 on calls %v; want only the second", got)
	}
	if _, _, err := emulator.ParseMisbehaviour("members.list=429,at-call:0"); err == nil {
		t.Error("at-call:0 was accepted")
	}
}

// --misbehave 'METHOD=service-disabled' answers Google's 403 for an API not
// enabled in the project, Chat's or the Admin SDK's by the method.
func TestMisbehaveServiceDisabled(t *testing.T) {
	method, m, err := emulator.ParseMisbehaviour("*=service-disabled")
	if err != nil || method != "*" || !m.ServiceDisabled {
		t.Fatalf("%q %+v %v", method, m, err)
	}
	em, c, _ := start(t, seed(), emulator.Options{}, chatapi.Options{})
	em.SetMisbehaviour(method, m)
	_, _, err = c.ListPage(context.Background(), "spaces/S", "")
	if !chatapi.ServiceDisabled(err) || !errors.Is(err, chatapi.ErrFatal) || !strings.Contains(err.Error(), "Google Chat API (chat.googleapis.com)") {
		t.Errorf("members.list: %v", err)
	}
	if n := em.Stats().Count("members.list"); n != 1 {
		t.Errorf("%d members.list calls counted", n)
	}
}

// NOT_A_MEMBER: "The user doesn't belong to the space and doesn't have a
// pending invitation to join the space" (Membership.state). The client
// reads such a membership as no membership; a create makes it anew.
func TestNotAMemberIsNoMembership(t *testing.T) {
	s := seed()
	s.Spaces[0].Members = append(s.Spaces[0].Members, emulator.SeedMember{User: "alice@example.com", State: "not_a_member"})
	_, c, _ := start(t, s, emulator.Options{}, chatapi.Options{ShowInvited: true, ShowGroups: true})
	ctx := context.Background()
	for _, m := range listAll(t, c, "spaces/S") {
		if m.Principal == "users/2" {
			t.Errorf("listed %+v", m)
		}
	}
	if m, err := c.Get(ctx, "spaces/S", "alice@example.com"); !errors.Is(err, chatapi.ErrNotFound) {
		t.Errorf("get: %+v %v, want not found", m, err)
	}
	m, err := c.Create(ctx, "spaces/S", membership.User("alice@example.com"))
	if err != nil || m.State != membership.StateJoined || m.Principal != "users/2" {
		t.Fatalf("create: %+v %v", m, err)
	}
	if _, err := c.Create(ctx, "spaces/S", membership.User("alice@example.com")); !errors.Is(err, chatapi.ErrAlreadyExists) {
		t.Errorf("second create: %v, want already exists", err)
	}
}

// The Directory answers in the Admin SDK's form: errors[].reason, no
// status string (forbidden for a caller who isn't an admin, as in
// GAM-team/GAM#461; invalid for a value it can't take).
func TestDirectoryErrorsHaveReasons(t *testing.T) {
	get := func(opts emulator.Options, path string) (int, string, string) {
		t.Helper()
		_, _, base := start(t, seed(), opts, chatapi.Options{})
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var body struct {
			Error struct {
				Status string `json:"status"`
				Errors []struct {
					Reason string `json:"reason"`
				} `json:"errors"`
			} `json:"error"`
		}
		json.NewDecoder(resp.Body).Decode(&body)
		reason := ""
		if len(body.Error.Errors) > 0 {
			reason = body.Error.Errors[0].Reason
		}
		return resp.StatusCode, reason, body.Error.Status
	}
	for _, tc := range []struct {
		name   string
		opts   emulator.Options
		path   string
		code   int
		reason string
	}{
		{"not an admin", emulator.Options{RefuseDirectory: true}, "/admin/directory/v1/users/owner@example.com", 403, "forbidden"},
		{"a query it can't parse", emulator.Options{}, "/admin/directory/v1/users?customer=my_customer&query=" + url.QueryEscape("isSuspended=maybe"), 400, "invalid"},
		{"no customer", emulator.Options{}, "/admin/directory/v1/users", 400, "badRequest"},
		{"a bad page token", emulator.Options{}, "/admin/directory/v1/users?customer=my_customer&pageToken=nope", 400, "invalid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, reason, status := get(tc.opts, tc.path)
			if code != tc.code || reason != tc.reason || status != "" {
				t.Errorf("%d reason %q status %q; want %d reason %q, no status", code, reason, status, tc.code, tc.reason)
			}
		})
	}
}

// Options.AppID: the app answered by its own numeric ID (answers give
// canonical names), while requests may still say app.
func TestTheAppByItsID(t *testing.T) {
	_, c, _ := start(t, seed(), emulator.Options{AppID: "990001"}, chatapi.Options{})
	ctx := context.Background()
	app, err := c.Get(ctx, "spaces/S", "app")
	if err != nil || !app.Bot || app.Name != "spaces/S/members/990001" || app.Principal != "users/990001" {
		t.Errorf("get app: %+v %v; want spaces/S/members/990001, users/990001", app, err)
	}
	if byID, err := c.Get(ctx, "spaces/S", "990001"); err != nil || byID.Name != app.Name {
		t.Errorf("get by the app's ID: %+v %v", byID, err)
	}
	listed := false
	for _, m := range listAll(t, c, "spaces/S") {
		listed = listed || m.Bot && m.Principal == "users/990001"
	}
	if !listed {
		t.Errorf("the list does not show the app as users/990001")
	}
	if err := c.Delete(ctx, "spaces/S/members/990001"); err != nil {
		t.Errorf("delete by the app's ID: %v", err)
	}
	if _, err := c.Get(ctx, "spaces/S", "app"); !errors.Is(err, chatapi.ErrNotFound) {
		t.Errorf("the app after its removal: %v", err)
	}
}

// spaces.members.list, pageToken: "When paginating, all other parameters
// provided should match the call that provided the page token. Passing
// different values to the other parameters might lead to unexpected
// results." The emulator refuses such a token (400), so a client that
// changes a filter, showInvited, showGroups or useAdminAccess in the
// middle of a list is caught, not silently given a page of another list.
func TestPageTokenIsForTheListThatGaveIt(t *testing.T) {
	s := seed()
	s.Spaces[0].Members = append(s.Spaces[0].Members, emulator.SeedMember{User: "alice@example.com"}, emulator.SeedMember{User: "shy@example.com", State: "INVITED"})
	_, _, base := start(t, s, emulator.Options{}, chatapi.Options{})
	get := func(query string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + "/v1/spaces/S/members?" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	first := "pageSize=1&showInvited=true&filter=" + urlq(`member.type != "BOT"`)
	code, body := get(first)
	var page struct{ NextPageToken string }
	if err := json.Unmarshal([]byte(body), &page); code != 200 || err != nil || page.NextPageToken == "" {
		t.Fatalf("first page: %d %s", code, body)
	}
	tok := "&pageToken=" + urlq(page.NextPageToken)
	if code, body := get(first + tok); code != 200 {
		t.Errorf("the same list's next page: %d %s", code, body)
	}
	if code, body := get("pageSize=5&showInvited=true&filter=" + urlq(`member.type != "BOT"`) + tok); code != 200 {
		t.Errorf("another page size (not a filter) is taken: %d %s", code, body)
	}
	for _, other := range []string{
		"pageSize=1&filter=" + urlq(`member.type != "BOT"`),
		"pageSize=1&showInvited=true",
		"pageSize=1&showInvited=true&showGroups=true&filter=" + urlq(`member.type != "BOT"`),
		"pageSize=1&showInvited=true&filter=" + urlq(`member.type != "BOT" AND role = "ROLE_MANAGER"`),
	} {
		if code, body := get(other + tok); code != 400 || !strings.Contains(body, "page token") {
			t.Errorf("%s with the token of another list: %d %s", other, code, body)
		}
	}
}

// groups.get and members.list take a group's alias: "The value can be the
// group's email address, group alias, or the unique group ID" (Admin SDK
// Directory API, groups.get and members.list, groupKey); the group's
// primary email comes back.
func TestDirectoryGroupByAlias(t *testing.T) {
	s := seed()
	s.Groups = append(s.Groups, emulator.SeedGroup{ID: "g42", Email: "eng-all@example.com", Aliases: []string{"Engineers@example.com"}, Members: []string{"alice@example.com"}})
	_, _, base := start(t, s, emulator.Options{}, chatapi.Options{})
	for path, want := range map[string]string{
		"/admin/directory/v1/groups/engineers@example.com":         `"id":"g42","email":"eng-all@example.com"`,
		"/admin/directory/v1/groups/Engineers@example.com/members": `"email":"alice@example.com"`,
		"/admin/directory/v1/groups/g42":                           `"email":"eng-all@example.com"`,
	} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 || !strings.Contains(string(b), want) {
			t.Errorf("%s: %d %s, want %s", path, resp.StatusCode, b, want)
		}
	}
}

// users.list takes orderBy email, familyName or givenName and sortOrder
// ASCENDING or DESCENDING (Admin SDK Directory API, users.list), and
// refuses other values; DESCENDING reverses the order.
func TestUsersListOrder(t *testing.T) {
	_, _, base := start(t, seed(), emulator.Options{}, chatapi.Options{})
	get := func(query string) (int, string) {
		t.Helper()
		resp, err := http.Get(base + "/admin/directory/v1/users?customer=my_customer&fields=users(primaryEmail)&" + query)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(b)
	}
	asc := `{"users":[{"primaryEmail":"alice@example.com"},{"primaryEmail":"gone@example.com"},{"primaryEmail":"owner@example.com"},{"primaryEmail":"shy@example.com"}]}`
	desc := `{"users":[{"primaryEmail":"shy@example.com"},{"primaryEmail":"owner@example.com"},{"primaryEmail":"gone@example.com"},{"primaryEmail":"alice@example.com"}]}`
	for query, want := range map[string]string{
		"orderBy=email":                                              asc,
		"orderBy=email&sortOrder=ASCENDING":                          asc,
		"orderBy=email&sortOrder=DESCENDING":                         desc,
		"orderBy=email&sortOrder=DESCENDING&maxResults=1&pageToken=": `{"users":[{"primaryEmail":"shy@example.com"}]}`,
	} {
		if code, body := get(query); code != 200 || !strings.HasPrefix(body, want) {
			t.Errorf("%s: %d %s, want %s", query, code, body, want)
		}
	}
	for _, query := range []string{"orderBy=mail", "orderBy=email&sortOrder=down"} {
		if code, body := get(query); code != 400 || !strings.Contains(body, `"reason":"invalid"`) {
			t.Errorf("%s: %d %s, want 400 invalid", query, code, body)
		}
	}
}

// An address names one thing in a Directory: Google refuses an alias (or a
// group email) that is already a user's address or another group's. A
// seed giving one is refused, not answered as two things at once (groups.get
// of a user's email finding a group; a group listing that user as a nested
// group; the last group seeded taking another's address).
func TestSeedGroupAddressesNameOneThing(t *testing.T) {
	for name, groups := range map[string][]emulator.SeedGroup{
		"alias is a user's email":                {{ID: "g1", Email: "eng@example.com", Aliases: []string{"Alice@example.com"}}},
		"alias is a user's alias":                {{ID: "g1", Email: "eng@example.com", Aliases: []string{"ali@example.com"}}},
		"alias is a user's alias-domain address": {{ID: "g1", Email: "eng@example.com", Aliases: []string{"alice@example.org"}}},
		"email is a user's email":                {{ID: "g1", Email: "owner@example.com"}},
		"alias is another group's email":         {{ID: "g1", Email: "eng@example.com"}, {ID: "g2", Email: "ops@example.com", Aliases: []string{"eng@example.com"}}},
		"email is another group's alias":         {{ID: "g1", Email: "eng@example.com", Aliases: []string{"team@example.com"}}, {ID: "g2", Email: "team@example.com"}},
		"alias is no address":                    {{ID: "g1", Email: "eng@example.com", Aliases: []string{"g2"}}, {ID: "g2", Email: "ops@example.com"}},
		"ID is another group's":                  {{ID: "g1", Email: "eng@example.com"}, {ID: "groups/g1", Email: "ops@example.com"}},
	} {
		s := seed()
		s.Groups = append(s.Groups, groups...)
		if _, err := emulator.New(s, emulator.Options{}); err == nil {
			t.Errorf("%s: the seed was taken", name)
		}
	}
	s := seed()
	s.Groups = append(s.Groups, emulator.SeedGroup{ID: "g1", Email: "eng@example.com", Aliases: []string{"engineers@example.com", "ENG@example.com"}})
	if _, err := emulator.New(s, emulator.Options{}); err != nil {
		t.Errorf("a group's own addresses: %v", err)
	}
}

// A group's ID is taken as groups.get gives it: members.list of the ID a
// groups.get answered lists the group, whatever the ID's letters' case.
func TestDirectoryGroupByTheIDItGives(t *testing.T) {
	s := seed()
	s.Groups = append(s.Groups, emulator.SeedGroup{ID: "Eng42", Email: "eng42@example.com", Members: []string{"alice@example.com"}})
	_, _, base := start(t, s, emulator.Options{}, chatapi.Options{})
	for _, path := range []string{"/admin/directory/v1/groups/Eng42", "/admin/directory/v1/groups/Eng42/members", "/admin/directory/v1/groups/ENG42@example.com/members"} {
		resp, err := http.Get(base + path)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != 200 {
			t.Errorf("%s: %d %s", path, resp.StatusCode, b)
		}
	}
}

// As for groups, an address names one user: a seed giving two users one
// address (an email, an alias, an alias-domain address), or one ID, is
// refused, not answered as whichever was seeded last.
func TestSeedUserAddressesNameOneUser(t *testing.T) {
	for name, u := range map[string]emulator.SeedUser{
		"email is another user's email":     {ID: "9", Email: "Owner@example.com"},
		"email is another user's alias":     {ID: "9", Email: "ali@example.com"},
		"alias is another user's email":     {ID: "9", Email: "new@example.com", Aliases: []string{"alice@example.com"}},
		"alias-domain address is another's": {ID: "9", Email: "new@example.com", NonEditableAliases: []string{"alice@example.org"}},
		"ID is another user's":              {ID: "2", Email: "new@example.com"},
	} {
		s := seed()
		s.Users = append(s.Users, u)
		if _, err := emulator.New(s, emulator.Options{}); err == nil {
			t.Errorf("%s: the seed was taken", name)
		}
	}
	s := seed()
	s.Users = append(s.Users, emulator.SeedUser{ID: "9", Email: "new@example.com", Aliases: []string{"NEW@example.com", "n@example.com"}})
	if _, err := emulator.New(s, emulator.Options{}); err != nil {
		t.Errorf("a user's own alias spelled as its email: %v", err)
	}
}
