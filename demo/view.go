package demo

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/chatwarden/chatwarden/handlers/discord/discordtest"
	"github.com/chatwarden/chatwarden/handlers/telegram/telegramtest"
)

// screen is the demo's terminal: the narration and the log-channel
// entries, written whole so that the two never interleave mid-line.
type screen struct {
	mu    sync.Mutex
	w     io.Writer
	color bool
	start time.Time
	names map[string]string // Discord ids the client would show as names
}

var discordMarkup = regexp.MustCompile(`<(#|@&|@!?|t:)(\d+)(:[a-zA-Z])?>`)

// resolve shows Discord's markup as the client does: <#id> as #channel,
// <@&id> as @role, <@id> as @member, <t:unix:f> as a time.
func (s *screen) resolve(text string) string {
	return discordMarkup.ReplaceAllStringFunc(text, func(m string) string {
		g := discordMarkup.FindStringSubmatch(m)
		if g[1] == "t:" {
			sec, err := strconv.ParseInt(g[2], 10, 64)
			if err != nil {
				return m
			}
			return time.Unix(sec, 0).Format("15:04:05")
		}
		name, ok := s.names[g[2]]
		if !ok {
			return m
		}
		if g[1] == "#" {
			return "#" + name
		}
		return "@" + name
	})
}

// useColor reports whether w is a terminal that wants colour: a character
// device, NO_COLOR unset and TERM not "dumb".
func useColor(w io.Writer) bool {
	f, ok := w.(*os.File)
	if !ok || os.Getenv("NO_COLOR") != "" || os.Getenv("TERM") == "dumb" {
		return false
	}
	st, err := f.Stat()
	return err == nil && st.Mode()&os.ModeCharDevice != 0
}

// ANSI styles; empty without colour.
func (s *screen) style(code, text string) string {
	if !s.color || text == "" {
		return text
	}
	return "\x1b[" + code + "m" + text + "\x1b[0m"
}

// rgb colours text with a 24-bit colour (an embed's colour).
func (s *screen) rgb(c int, text string) string {
	if !s.color {
		return text
	}
	return fmt.Sprintf("\x1b[38;2;%d;%d;%dm%s\x1b[0m", c>>16&0xff, c>>8&0xff, c&0xff, text)
}

func (s *screen) write(text string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	io.WriteString(s.w, text)
}

// scene announces a step of the script.
func (s *screen) scene(format string, args ...any) {
	at := time.Since(s.start).Seconds()
	s.write(fmt.Sprintf("\n%s %s\n", s.style("2", fmt.Sprintf("[%4.1fs]", at)), s.style("1;36", "▶ "+fmt.Sprintf(format, args...))))
}

// note is a line of narration under a scene.
func (s *screen) note(format string, args ...any) {
	s.write(s.style("2", "         "+fmt.Sprintf(format, args...)) + "\n")
}

// discordPost is the part of a channel message the demo shows.
type discordPost struct {
	Content    string                      `json:"content"`
	Embeds     []*discordtest.MessageEmbed `json:"embeds"`
	Components []struct {
		Components []struct {
			Label    string `json:"label"`
			CustomID string `json:"custom_id"`
		} `json:"components"`
	} `json:"components"`
}

// buttons returns a post's buttons, label to custom id.
func (p discordPost) buttons() map[string]string {
	out := map[string]string{}
	for _, row := range p.Components {
		for _, b := range row.Components {
			out[b.Label] = b.CustomID
		}
	}
	return out
}

func (p discordPost) labels() []string {
	var out []string
	for _, row := range p.Components {
		for _, b := range row.Components {
			out = append(out, b.Label)
		}
	}
	return out
}

// unescape undoes the Markdown escapes of a Discord entry (\_ → _), as
// the Discord client does when it renders one.
func (scr *screen) unescape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\\*_~`|>#-.()[]<:!+=", s[i+1]) >= 0 {
			i++
		}
		b.WriteByte(s[i])
	}
	return scr.resolve(b.String())
}

// discordEntries renders a Discord message of log entries the way the
// client shows embeds: a bar in the embed's colour, the title, the
// description, the fields and the footer.
func (s *screen) discordEntries(where string, raw []byte) {
	var p discordPost
	if err := json.Unmarshal(raw, &p); err != nil {
		s.write(fmt.Sprintf("  (unreadable post in %s: %v)\n", where, err))
		return
	}
	var b strings.Builder
	for _, em := range p.Embeds {
		bar := s.rgb(em.Color, "  ┃ ")
		b.WriteString(bar + s.style("1", s.unescape(em.Title)) + s.style("2", "   Discord "+where) + "\n")
		for _, line := range strings.Split(strings.TrimSpace(em.Description), "\n") {
			if line != "" {
				b.WriteString(bar + s.unescape(line) + "\n")
			}
		}
		for _, f := range em.Fields {
			b.WriteString(bar + s.style("2", f.Name+": ") + s.unescape(strings.ReplaceAll(f.Value, "\n", " ")) + "\n")
		}
		if em.Footer != nil {
			b.WriteString(bar + s.style("2", em.Footer.Text) + "\n")
		}
	}
	if p.Content != "" && len(p.Embeds) == 0 {
		b.WriteString("  ┃ " + s.resolve(p.Content) + "\n")
	}
	if l := p.labels(); len(l) > 0 {
		b.WriteString("  ┃ " + s.style("7", " "+strings.Join(l, " ] [ ")+" ") + "\n")
	}
	s.write(b.String())
}

// telegramEntries renders a Telegram log message: its text as the app
// shows it (entities parsed), the first line of each entry in bold, and
// its buttons.
func (s *screen) telegramEntries(where string, m telegramtest.SentMessage) {
	var b strings.Builder
	bar := s.style("34", "  │ ")
	first := true
	for _, line := range strings.Split(strings.TrimSpace(m.Text), "\n") {
		switch {
		case line == "":
			first = true
			b.WriteString(bar + "\n")
		case first:
			b.WriteString(bar + s.style("1", line) + s.style("2", "   Telegram "+where) + "\n")
			first = false
		default:
			b.WriteString(bar + line + "\n")
		}
	}
	if m.ReplyMarkup != nil {
		var labels []string
		for _, row := range m.ReplyMarkup.InlineKeyboard {
			for _, k := range row {
				labels = append(labels, k.Text)
			}
		}
		if len(labels) > 0 {
			b.WriteString(bar + s.style("7", " "+strings.Join(labels, " ] [ ")+" ") + "\n")
		}
	}
	s.write(b.String())
}

// logWatch shows log entries as the fakes receive them: it polls the
// Discord log channel's posts and the Telegram log chat's messages.
type logWatch struct {
	scr      *screen
	discord  *discordtest.Server
	dChannel string
	dName    string
	telegram *telegramtest.Server
	tChat    int64
	tName    string

	mu        sync.Mutex
	dSeen     int
	dBodies   []string // the posts as last shown
	tSeen     int
	lastPost  time.Time
	dEntries  int
	tMessages int
}

// poll shows what arrived since the last call.
func (w *logWatch) poll() {
	w.mu.Lock()
	defer w.mu.Unlock()
	posts := w.discord.Posts(w.dChannel)
	// An entry edited in place (a raid's, as it grows and ends) is shown
	// again as it stands now.
	for i := range min(w.dSeen, len(posts), len(w.dBodies)) {
		if string(posts[i]) != w.dBodies[i] {
			w.scr.discordEntries(w.dName+" (edited)", posts[i])
			w.lastPost = time.Now()
		}
	}
	w.dBodies = w.dBodies[:0]
	for _, raw := range posts {
		w.dBodies = append(w.dBodies, string(raw))
	}
	for _, raw := range posts[min(w.dSeen, len(posts)):] {
		var p discordPost
		if json.Unmarshal(raw, &p) == nil {
			w.dEntries += len(p.Embeds)
		}
		w.scr.discordEntries(w.dName, raw)
		w.lastPost = time.Now()
	}
	w.dSeen = len(posts)
	var msgs []telegramtest.SentMessage
	for _, m := range w.telegram.Messages(w.tChat) {
		if m.Method == "sendMessage" {
			msgs = append(msgs, m)
		}
	}
	for _, m := range msgs[min(w.tSeen, len(msgs)):] {
		w.scr.telegramEntries(w.tName, m)
		w.tMessages++
		w.lastPost = time.Now()
	}
	w.tSeen = len(msgs)
}

// run polls until stop is closed.
func (w *logWatch) run(stop <-chan struct{}, done chan<- struct{}) {
	defer close(done)
	t := time.NewTicker(100 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-stop:
			w.poll()
			return
		case <-t.C:
			w.poll()
		}
	}
}

// quietFor reports whether nothing was posted for d.
func (w *logWatch) quietFor(d time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return time.Since(w.lastPost) >= d
}
