package devplatform

import (
	"encoding/json"
	"html/template"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// The platform's Moodle web services, as far as Huddle's messages need them: Moodle
// 4.5's REST protocol at /webservice/rest/server.php with core_webservice_get_site_info
// (the connection check) and core_message_send_instant_messages, and a message list
// at /messages where a developer, or an end-to-end test, reads what Huddle sent each
// person, as the Moodle app would show it. Any non-empty token is accepted.

// Message is one instant message the platform received from Huddle.
type Message struct {
	ID     int64
	ToUser string // the Moodle user id
	Text   string
	At     time.Time
}

// Messages returns the messages received so far, oldest first.
func (p *Platform) Messages() []Message {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Message(nil), p.messages...)
}

// wsException answers as Moodle does when a web service call fails: HTTP 200 with
// an exception object.
func wsException(w http.ResponseWriter, code, message string) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(map[string]string{"exception": "moodle_exception", "errorcode": code, "message": message})
}

func (p *Platform) webService(w http.ResponseWriter, r *http.Request) {
	if err := r.ParseForm(); err != nil {
		wsException(w, "invalidparameter", "Invalid parameter value detected")
		return
	}
	if r.PostForm.Get("wstoken") == "" {
		wsException(w, "invalidtoken", "Invalid token - token not found")
		return
	}
	if p.offline.Load() {
		http.Error(w, "The platform is down for the test", http.StatusServiceUnavailable)
		return
	}
	var out any
	switch fn := r.Form.Get("wsfunction"); fn {
	case "core_webservice_get_site_info":
		out = map[string]any{"sitename": "Huddle development platform", "siteurl": p.cfg.PublicURL, "siteid": 1,
			"username": "huddle_ws", "fullname": "Huddle web services", "userid": 2, "lang": "en",
			"release": "4.5 (development platform)", "version": "2024100700",
			"functions": []map[string]string{{"name": "core_webservice_get_site_info", "version": "4.5"},
				{"name": "core_message_send_instant_messages", "version": "4.5"}}}
	case "core_message_send_instant_messages":
		out = p.sendMessages(r)
	default:
		wsException(w, "accessexception", "Access control exception")
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(out)
}

// sendMessages stores messages[i][touserid] and messages[i][text] and answers one
// result per message, refusing an unknown user as Moodle does (msgid -1).
func (p *Platform) sendMessages(r *http.Request) []map[string]any {
	var out []map[string]any
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := 0; ; i++ {
		prefix := "messages[" + strconv.Itoa(i) + "]"
		to := r.PostForm.Get(prefix + "[touserid]")
		if to == "" {
			return out
		}
		res := map[string]any{"clientmsgid": r.PostForm.Get(prefix + "[clientmsgid]"), "useridfrom": 2}
		if _, ok := p.user(to); !ok {
			res["msgid"], res["errormessage"] = -1, "Invalid user"
			out = append(out, res)
			continue
		}
		m := Message{ID: int64(len(p.messages) + 1), ToUser: to, Text: r.PostForm.Get(prefix + "[text]"), At: p.now()}
		p.messages = append(p.messages, m)
		res["msgid"], res["text"], res["timecreated"], res["conversationid"] = m.ID, m.Text, m.At.Unix(), 1
		out = append(out, res)
	}
}

var messagesPage = template.Must(template.New("messages").Parse(`<!doctype html>
<html lang="en-GB"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>Messages · Development platform</title></head>
<body><main><h1>Messages{{with .For}} to {{.}}{{end}}</h1>
{{range .Messages}}<article><h2>From Huddle to {{.Name}}, {{.At}}</h2><p style="white-space: pre-wrap">{{.Text}}</p></article>
{{else}}<p>No messages yet.</p>{{end}}
</main></body></html>`))

// messageList is the platform's message list, newest first; ?user= shows one person's.
func (p *Platform) messageList(w http.ResponseWriter, r *http.Request) {
	type shown struct{ Name, At, Text string }
	user := r.URL.Query().Get("user")
	var list []shown
	msgs := p.Messages()
	for i := len(msgs) - 1; i >= 0; i-- {
		m := msgs[i]
		if user != "" && m.ToUser != user {
			continue
		}
		u, _ := p.user(m.ToUser)
		list = append(list, shown{Name: strings.TrimSpace(u.Name()), At: m.At.UTC().Format("2 Jan 2006, 15:04 MST"), Text: m.Text})
	}
	data := map[string]any{"Messages": list}
	if u, ok := p.user(user); ok {
		data["For"] = u.Name()
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	_ = messagesPage.Execute(w, data)
}
