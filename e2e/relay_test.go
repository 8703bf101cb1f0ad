package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"slices"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/require"
)

// relayHarness runs web/static/relay.js (the cookie-less Deep Linking frame's poll of
// its relay) in Chromium on a clock of its own: the script's timers, its fetch and its
// page are stand-ins, so an hour of waiting takes milliseconds and every poll is seen.
// events change what the relay answers ("waiting", "picking", "ready", "gone" for a
// 404) or show the page again ("visible") at a time in ms; the run ends at until ms.
// It returns when each poll was made, whether the page says it failed, how many times
// it posted the answer to the platform, and how many timers are still set.
const relayHarness = `async (src, events, until) => {
  const els = {};
  const el = id => els[id] || (els[id] = {hidden: true, attrs: {}, getAttribute(n) { return this.attrs[n]; }});
  const platform = "http://127.0.0.1:9";
  el("relay").attrs = {"data-relay": "/lti/relay/secret", "data-platform": platform};
  let now = 0, next = 1, submitted = 0, status = 200, answer = {state: "waiting"};
  const timers = [], polls = [], listeners = {};
  const doc = {
    visibilityState: "hidden",
    getElementById: el,
    addEventListener: (type, fn) => { listeners[type] = fn; },
    createElement: () => ({appendChild() {}, submit() { submitted++; }}),
    body: {appendChild() {}},
  };
  const fetch = () => {
    polls.push(now);
    return Promise.resolve({status, ok: status < 300, json: () => Promise.resolve(answer)});
  };
  const win = {
    fetch,
    setTimeout: (fn, ms) => { timers.push({at: now + ms, fn, id: next}); return next++; },
    clearTimeout: id => { const i = timers.findIndex(t => t.id === id); if (i >= 0) { timers.splice(i, 1); } },
  };
  const settle = async () => { for (let i = 0; i < 20; i++) { await null; } };
  new Function("window", "document", "fetch", src)(win, doc, fetch);
  await settle();
  events = events.slice().sort((a, b) => a.at - b.at);
  for (;;) {
    timers.sort((a, b) => a.at - b.at || a.id - b.id);
    const t = timers.length ? timers[0].at : Infinity;
    const e = events.length ? events[0].at : Infinity;
    if (Math.min(t, e) > until) { break; }
    if (e <= t) {
      const ev = events.shift();
      now = ev.at;
      switch (ev.what) {
      case "visible": doc.visibilityState = "visible"; if (listeners.visibilitychange) { listeners.visibilitychange(); } break;
      case "gone": status = 404; break;
      case "ready": answer = {state: "ready", return_url: platform + "/deep-link-return", field: "JWT", jwt: "signed"}; break;
      default: answer = {state: ev.what};
      }
    } else {
      const due = timers.shift();
      now = due.at;
      due.fn();
    }
    await settle();
  }
  return {polls, failed: !el("relay-failed").hidden, submitted, timers: timers.length};
}`

type relayEvent struct {
	At   int    `json:"at"`
	What string `json:"what"`
}

type relayRun struct {
	Polls     []int `json:"polls"`
	Failed    bool  `json:"failed"`
	Submitted int   `json:"submitted"`
	Timers    int   `json:"timers"`
}

// gaps are the times between polls, in ms, from the script's start.
func (r relayRun) gaps() []int {
	out := make([]int, len(r.Polls))
	for i, p := range r.Polls {
		if i == 0 {
			out[i] = p
		} else {
			out[i] = p - r.Polls[i-1]
		}
	}
	return out
}

// The relay may wait for up to 70 minutes (lti.RelayLifetime). The frame used to ask
// every 1.5 s all that time, about 2,800 requests for one dialog left open; it backs
// off to every 15 s, and asks often again, at once, when it matters: the new window
// launched (the state changed) or the educator came back to Moodle's tab.
func TestRelayPollingBacksOff(t *testing.T) {
	src, err := os.ReadFile("../web/static/relay.js")
	require.NoError(t, err)
	b := newBrowser(t, ThirdPartyAllowed)
	run := func(t *testing.T, events []relayEvent, until int) relayRun {
		t.Helper()
		if events == nil {
			events = []relayEvent{}
		}
		ctx, cancel := b.step()
		defer cancel()
		r, err := chromedp.Run(ctx, chromedp.Evaluate[relayRun](`(`+relayHarness+`)(`+jsString(string(src))+`, `+
			jsonOf(t, events)+`, `+jsonOf(t, until)+`)`, chromedp.EvalAwaitPromise))
		require.NoError(t, err)
		return r
	}
	const minute = 60 * 1000

	t.Run("waiting an hour", func(t *testing.T) {
		r := run(t, nil, 70*minute)
		g := r.gaps()
		require.NotEmpty(t, g)
		require.Equal(t, 1500, g[0], "the first poll is 1.5 s after the page loads")
		for i := 1; i < len(g); i++ {
			require.GreaterOrEqual(t, g[i], g[i-1], "poll %d: the waits only grow while nothing changes: %s", i, brief(g))
			require.LessOrEqual(t, g[i], 15000, "poll %d: never more than 15 s apart: %s", i, brief(g))
		}
		require.Equal(t, 15000, g[len(g)-1], "it settles at 15 s: %s", brief(g))
		require.Less(t, len(r.Polls), 300, "70 minutes of waiting take %d polls", len(r.Polls))
		require.Equal(t, 1, r.Timers, "still waiting")
		require.False(t, r.Failed)
	})

	t.Run("the new window launches", func(t *testing.T) {
		// Ten minutes of waiting, then the educator's new window launches: the next
		// poll that sees it resets the pace to 1.5 s.
		r := run(t, []relayEvent{{10 * minute, "picking"}}, 12*minute)
		var seen int
		for i, p := range r.Polls {
			if p > 10*minute {
				seen = i
				break
			}
		}
		require.NotZero(t, seen, "polled after the launch: %s", brief(r.Polls))
		require.Equal(t, 1500, r.Polls[seen+1]-r.Polls[seen], "after the state changed: %s", brief(r.gaps()))
	})

	t.Run("the educator comes back to the tab", func(t *testing.T) {
		back := 10*minute + 1
		r := run(t, []relayEvent{{back - 1, "ready"}, {back, "visible"}}, back)
		require.True(t, slices.Contains(r.Polls, back), "asks at once when the page is shown again: %s", brief(r.Polls))
		require.Equal(t, 1, r.Submitted, "the answer is posted to the platform once")
		require.Zero(t, r.Timers, "and nothing polls after it")

		r = run(t, []relayEvent{{back, "visible"}}, back+3000)
		i := len(r.Polls) - 2
		require.Equal(t, []int{back, back + 1500}, r.Polls[i:], "asks at once, then at 1.5 s again: %s", brief(r.Polls))
	})

	t.Run("the relay is gone", func(t *testing.T) {
		r := run(t, []relayEvent{{5 * minute, "gone"}}, 70*minute)
		require.True(t, r.Failed, "the page says Huddle could not hand the choice to Moodle")
		require.Less(t, r.Polls[len(r.Polls)-1], 5*minute+16000, "and stops asking: %s", brief(r.Polls))
		require.Zero(t, r.Timers)
	})
}

// brief shows a long list of times by its length, start and end.
func brief(xs []int) string {
	if len(xs) <= 12 {
		return fmt.Sprint(xs)
	}
	return fmt.Sprintf("%d values: %v ... %v", len(xs), xs[:8], xs[len(xs)-3:])
}

// jsonOf is v as a JavaScript literal.
func jsonOf(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}
