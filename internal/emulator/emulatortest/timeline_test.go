package emulatortest

import (
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"
)

func TestActivity(t *testing.T) {
	ms := func(n int) time.Duration { return time.Duration(n) * time.Millisecond }
	calls := []Call{
		{Kind: KindList, Path: "/v1/spaces/A/members", Status: 200, Start: ms(0), End: ms(10)},
		{Kind: KindList, Path: "/v1/spaces/B/members", Status: 200, Start: ms(5), End: ms(20)},
		{Kind: KindWrite, Path: "/v1/spaces/A/members", Status: 200, Start: ms(20), End: ms(60)},
		{Kind: KindList, Path: "/v1/spaces/A/members", Status: 429, Start: ms(50), End: ms(55)},
		{Kind: KindList, Path: "/v1/spaces/A/members", Status: 200, Start: ms(70), End: ms(80)},
		{Kind: KindList, Path: "/v1/spaces/C/members", Status: 200, Start: ms(100), End: ms(110)},
	}
	a := ActivityOf(calls, KindList)
	want := Activity{Calls: 5, First: ms(0), Last: ms(110), Idle: ms(30 + 15 + 20), LongestIdle: ms(30), MaxInFlight: 2, Repeats: 1}
	if a != want {
		t.Errorf("Activity = %+v, want %+v", a, want)
	}
	if got := MeanInFlight(calls, KindList, ms(0), ms(20)); got != 1.25 {
		t.Errorf("MeanInFlight over the first 20 ms = %v, want 1.25", got)
	}
}

func TestTimelineRecordsKinds(t *testing.T) {
	var tl Timeline
	srv := httptest.NewServer(tl.Wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/spaces/S/members/9" {
			w.WriteHeader(404)
		}
		io.WriteString(w, "{}")
	})))
	defer srv.Close()
	for _, p := range []string{"/v1/spaces/S/members?pageSize=1000", "/v1/spaces/S/members/9", "/v1/spaces/S", "/admin/directory/v1/users?query=email%3Aa%2A", "/admin/directory/v1/users/a@example.com", "/emulator/stats"} {
		resp, err := http.Get(srv.URL + p)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	var got []string
	for _, c := range tl.Calls() {
		got = append(got, c.Kind)
		if c.Kind == KindGet && c.Status != 404 {
			t.Errorf("members.get recorded as %d, want 404", c.Status)
		}
	}
	want := []string{KindList, KindGet, KindSpacesGet, KindDirectoryList, KindDirectoryGet}
	if len(got) != len(want) {
		t.Fatalf("kinds %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("kinds %v, want %v", got, want)
		}
	}
}
