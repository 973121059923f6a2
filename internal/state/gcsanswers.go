package state

import (
	"fmt"
	"net/http"

	"github.com/syncer-dev/syncer/internal/fsutil"
)

// maxAnswer bounds a Cloud Storage answer other than a document's bytes
// (an object's metadata, a write's answer): Google's are a few KB. An error
// answer is cut at maxErrorAnswer instead, so its status still says what
// failed. A document's bytes (alt=media) are bounded by Read. A server that
// streams without end fails the call, instead of filling memory until the
// call's deadline.
const (
	maxAnswer      = 1 << 20
	maxErrorAnswer = 64 << 10
)

// boundedAnswers holds every answer's body to maxAnswer (see above).
type boundedAnswers struct{ base http.RoundTripper }

func (t boundedAnswers) RoundTrip(req *http.Request) (*http.Response, error) {
	base := t.base
	if base == nil {
		base = http.DefaultTransport
	}
	res, err := base.RoundTrip(req)
	if err != nil || res.Body == nil {
		return res, err
	}
	ok := res.StatusCode >= 200 && res.StatusCode <= 299
	switch {
	case ok && req.URL.Query().Get("alt") == "media":
		// A document's bytes: Read reads at most maxDocument of them.
	case ok:
		res.Body = &fsutil.Bounded{RC: res.Body, Left: maxAnswer, Over: func() error {
			return permanent(fmt.Errorf("the answer is over %d KiB, more than any answer of metadata", maxAnswer>>10))
		}}
	default:
		res.Body = &fsutil.Bounded{RC: res.Body, Left: maxErrorAnswer, Cut: true}
	}
	return res, nil
}
