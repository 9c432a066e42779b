package telegramtest

import (
	"strings"
	"time"
)

// ---------------------------------------------------------------------------
// Callback queries

// CallbackAnswer is what the bot answered to a callback query.
type CallbackAnswer struct {
	Text      string
	ShowAlert bool
	URL       string
	CacheTime int
	Time      time.Time // real time of the answer
}

type callbackState struct {
	id       string
	created  time.Time // fake time
	answered bool
	answer   CallbackAnswer
}

func (s *Server) mAnswerCallbackQuery(r *request) (any, *apiError) {
	st := s.callbacks[strings.TrimSpace(r.str("callback_query_id"))]
	expired := st != nil && s.opts.CallbackTimeout > 0 && s.nowLocked().Sub(st.created) > s.opts.CallbackTimeout
	if st == nil || st.answered || expired {
		return nil, badRequest("query is too old and response timeout expired or query ID is invalid")
	}
	text := r.str("text")
	if UTF16Len(text) > 200 {
		return nil, badRequest("MESSAGE_TOO_LONG")
	}
	cache, _ := r.int64Param("cache_time")
	st.answered = true
	st.answer = CallbackAnswer{Text: text, ShowAlert: r.boolean("show_alert"), URL: r.str("url"),
		CacheTime: int(cache), Time: time.Now()}
	s.notifyLocked()
	return true, nil
}
