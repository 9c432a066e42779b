package telegramtest

import (
	"bytes"
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"
)

type storedFile struct {
	id       string
	uniqueID string
	path     string
	file     File
}

func (s *Server) mGetMe(*request) (any, *apiError) {
	return map[string]any{
		"id": s.bot.ID, "is_bot": true, "first_name": s.bot.FirstName,
		"last_name": s.bot.LastName, "username": s.bot.Username,
		"can_join_groups": true, "can_read_all_group_messages": !s.opts.PrivacyMode,
		"supports_inline_queries": false, "can_connect_to_business": false, "has_main_web_app": false,
	}, nil
}

// ---------------------------------------------------------------------------
// Reply markup, reply parameters, threads

var inlineButtonKinds = []string{"url", "callback_data", "login_url", "switch_inline_query",
	"switch_inline_query_current_chat", "switch_inline_query_chosen_chat", "callback_game",
	"pay", "web_app", "copy_text"}

// parseReplyMarkup validates reply_markup. It returns the inline keyboard
// (nil for other keyboard kinds or none) and the raw JSON.
func parseReplyMarkup(raw string) (*InlineKeyboardMarkup, string, *apiError) {
	raw = strings.TrimSpace(raw)
	if raw == "" || raw == "null" {
		return nil, "", nil
	}
	var obj map[string]json.RawMessage
	if err := json.Unmarshal([]byte(raw), &obj); err != nil || obj == nil {
		return nil, "", badRequest("can't parse reply keyboard markup JSON object")
	}
	if ik, ok := obj["inline_keyboard"]; ok {
		var rows [][]map[string]json.RawMessage
		if err := json.Unmarshal(ik, &rows); err != nil {
			return nil, "", badRequest("field \"inline_keyboard\" of the InlineKeyboardMarkup must be an Array of Arrays")
		}
		for _, row := range rows {
			for _, btn := range row {
				if e := validateInlineButton(btn); e != nil {
					return nil, "", e
				}
			}
		}
		var mk InlineKeyboardMarkup
		if err := json.Unmarshal([]byte(raw), &mk); err != nil {
			return nil, "", badRequest("can't parse inline keyboard button: %v", err)
		}
		if mk.InlineKeyboard == nil {
			mk.InlineKeyboard = [][]InlineKeyboardButton{}
		}
		return &mk, raw, nil
	}
	if kb, ok := obj["keyboard"]; ok {
		var rows [][]json.RawMessage
		if err := json.Unmarshal(kb, &rows); err != nil {
			return nil, "", badRequest("field \"keyboard\" of the ReplyKeyboardMarkup must be an Array of Arrays")
		}
		return nil, raw, nil
	}
	if _, ok := obj["remove_keyboard"]; ok {
		return nil, raw, nil
	}
	if _, ok := obj["force_reply"]; ok {
		return nil, raw, nil
	}
	return nil, "", badRequest("can't parse reply keyboard markup JSON object")
}

func validateInlineButton(btn map[string]json.RawMessage) *apiError {
	var text string
	if err := json.Unmarshal(btn["text"], &text); err != nil {
		return badRequest("can't parse inline keyboard button: Field \"text\" must be of type String")
	}
	if text == "" {
		return badRequest("can't parse inline keyboard button: Text must be non-empty")
	}
	kinds := 0
	for _, k := range inlineButtonKinds {
		if v, ok := btn[k]; ok && string(v) != "null" {
			kinds++
		}
	}
	if kinds == 0 {
		return badRequest("can't parse inline keyboard button: Text buttons are unallowed in the inline keyboard")
	}
	if raw, ok := btn["callback_data"]; ok {
		var data string
		if err := json.Unmarshal(raw, &data); err != nil {
			return badRequest("can't parse inline keyboard button: Field \"callback_data\" must be of type String")
		}
		if len(data) == 0 || len(data) > 64 {
			return badRequest("BUTTON_DATA_INVALID")
		}
	}
	if raw, ok := btn["url"]; ok {
		var u string
		if err := json.Unmarshal(raw, &u); err != nil {
			return badRequest("can't parse inline keyboard button: Field \"url\" must be of type String")
		}
		if _, ok := normalizeURL(u); !ok {
			return badRequest("inline keyboard button URL '%s' is invalid: Wrong HTTP URL", u)
		}
	}
	return nil
}

type replyParameters struct {
	MessageID                int             `json:"message_id"`
	ChatID                   json.RawMessage `json:"chat_id"`
	AllowSendingWithoutReply bool            `json:"allow_sending_without_reply"`
	Quote                    string          `json:"quote"`
}

// placeLocked resolves message_thread_id and the reply target of a message
// the bot sends, and fills them into m.
func (s *Server) placeLocked(c *chatState, r *request, m *Message) *apiError {
	var replyID int
	allowWithout := r.boolean("allow_sending_without_reply")
	if raw := strings.TrimSpace(r.str("reply_parameters")); raw != "" && raw != "null" {
		var rp replyParameters
		if err := decodeJSON(raw, &rp); err != nil {
			return badRequest("can't parse reply parameters JSON object")
		}
		if len(rp.ChatID) > 0 && string(rp.ChatID) != "null" {
			other := strings.Trim(string(rp.ChatID), `"`)
			if oc, e := s.resolveChatLocked(other); e != nil || oc != c {
				return badRequest("message to be replied not found")
			}
		}
		replyID, allowWithout = rp.MessageID, rp.AllowSendingWithoutReply || allowWithout
	} else if id, ok := r.int64Param("reply_to_message_id"); ok {
		replyID = int(id)
	}
	var target *storedMessage
	if replyID != 0 {
		target = c.byID[replyID]
		if target == nil || target.deleted {
			if !allowWithout {
				return badRequest("message to be replied not found")
			}
			target = nil
		}
	}
	thread := 0
	if id, ok := r.int64Param("message_thread_id"); ok && id != 0 {
		thread = int(id)
		switch {
		case c.chat.IsForum:
			if _, ok := c.topics[thread]; !ok && thread != 1 {
				return badRequest("message thread not found")
			}
			if thread == 1 { // the General topic
				thread = 0
			}
		default:
			if t := c.byID[thread]; t == nil || t.deleted {
				return badRequest("message thread not found")
			}
		}
	}
	if target != nil && thread == 0 {
		thread = target.msg.MessageThreadID
	}
	m.MessageThreadID = thread
	if c.chat.IsForum && thread != 0 {
		m.IsTopicMessage = true
		if target == nil {
			target = c.topics[thread]
		}
	}
	if target != nil {
		m.ReplyToMessage = replyCopy(target.msg)
	}
	return nil
}

func parseLinkPreview(r *request) (*LinkPreviewOptions, *apiError) {
	if raw := strings.TrimSpace(r.str("link_preview_options")); raw != "" && raw != "null" {
		var lpo LinkPreviewOptions
		if err := decodeJSON(raw, &lpo); err != nil {
			return nil, badRequest("can't parse link preview options JSON object")
		}
		return &lpo, nil
	}
	if r.boolean("disable_web_page_preview") {
		return &LinkPreviewOptions{IsDisabled: true}, nil
	}
	return nil, nil
}

// newBotMessageLocked stores a message authored by the bot in c.
func (s *Server) newBotMessageLocked(c *chatState, r *request) *storedMessage {
	sm := s.newMessageLocked(c)
	sm.byBot = true
	sm.method = r.method
	sm.params = cloneValues(r.params)
	if c.chat.Type == ChatChannel {
		ch := c.chat
		sm.msg.SenderChat = &ch
	} else {
		b := s.bot
		sm.msg.From = &b
	}
	return sm
}

func cloneValues(v url.Values) url.Values {
	out := url.Values{}
	for k, vs := range v {
		out[k] = append([]string(nil), vs...)
	}
	return out
}

// ---------------------------------------------------------------------------
// Sending

// textParams are a text message's parameters as sendMessage and
// editMessageText take them, checked and parsed.
type textParams struct {
	raw, parseMode, rawMarkup string
	plain                     string
	entities                  []MessageEntity
	markup                    *InlineKeyboardMarkup
	preview                   *LinkPreviewOptions
}

// parseText reads text (with parse_mode or entities), reply_markup and
// link_preview_options, refusing what Telegram refuses: an empty text,
// before or after formatting, and one over MaxTextLength.
func (s *Server) parseText(r *request) (textParams, *apiError) {
	t := textParams{raw: r.str("text"), parseMode: r.str("parse_mode")}
	if strings.TrimSpace(t.raw) == "" {
		return t, badRequest("message text is empty")
	}
	var e *apiError
	if t.plain, t.entities, e = s.formatText(t.raw, t.parseMode, r.str("entities")); e != nil {
		return t, e
	}
	if t.plain == "" {
		return t, badRequest("message text is empty")
	}
	if UTF16Len(t.plain) > MaxTextLength {
		return t, badRequest("message is too long")
	}
	if t.markup, t.rawMarkup, e = parseReplyMarkup(r.str("reply_markup")); e != nil {
		return t, e
	}
	if t.preview, e = parseLinkPreview(r); e != nil {
		return t, e
	}
	return t, nil
}

// setOn makes t the text of message sm.
func (t textParams) setOn(sm *storedMessage) {
	sm.msg.Text, sm.msg.Entities, sm.msg.ReplyMarkup, sm.msg.LinkPreviewOptions = t.plain, t.entities, t.markup, t.preview
	sm.parseMode, sm.rawText, sm.rawMarkup = t.parseMode, t.raw, t.rawMarkup
}

func (s *Server) mSendMessage(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.canSendLocked(c, "text messages"); e != nil {
		return nil, e
	}
	t, e := s.parseText(r)
	if e != nil {
		return nil, e
	}
	var placed Message
	if e := s.placeLocked(c, r, &placed); e != nil {
		return nil, e
	}
	if e := s.paceLocked(r.method, c); e != nil {
		return nil, e
	}
	sm := s.newBotMessageLocked(c, r)
	m := &sm.msg
	m.MessageThreadID, m.IsTopicMessage, m.ReplyToMessage = placed.MessageThreadID, placed.IsTopicMessage, placed.ReplyToMessage
	t.setOn(sm)
	return sm.msg, nil
}

func mimeFor(name string) string {
	t := mime.TypeByExtension(path.Ext(name))
	if t == "" {
		return "application/octet-stream"
	}
	if mt, _, err := mime.ParseMediaType(t); err == nil {
		return mt
	}
	return t
}

func (s *Server) storeFileLocked(f File) *storedFile {
	s.nextFile++
	sf := &storedFile{
		id:       "BQACAgIAAxkDAAI" + s.randToken(40),
		uniqueID: "AgAD" + s.randToken(12),
		path:     fmt.Sprintf("documents/file_%d%s", s.nextFile, path.Ext(f.Name)),
		file:     f,
	}
	s.files[sf.id] = sf
	return sf
}

func (s *Server) mSendDocument(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.canSendLocked(c, "documents"); e != nil {
		return nil, e
	}
	var sf *storedFile
	if up, ok := r.files["document"]; ok {
		if len(up.Data) == 0 {
			return nil, badRequest("file must be non-empty")
		}
		if up.MimeType == "" || up.MimeType == "application/octet-stream" {
			up.MimeType = mimeFor(up.Name)
		}
		sf = &storedFile{file: up}
	} else if v := strings.TrimSpace(r.str("document")); v != "" {
		switch {
		case strings.HasPrefix(v, "attach://"):
			up, ok := r.files[strings.TrimPrefix(v, "attach://")]
			if !ok {
				return nil, badRequest("wrong file identifier/HTTP URL specified")
			}
			sf = &storedFile{file: up}
		case s.files[v] != nil:
			sf = s.files[v]
		case strings.HasPrefix(v, "http://") || strings.HasPrefix(v, "https://"):
			u, err := url.Parse(v)
			if err != nil {
				return nil, badRequest("wrong file identifier/HTTP URL specified")
			}
			name := path.Base(u.Path)
			sf = &storedFile{file: File{Field: "document", Name: name, MimeType: mimeFor(name)}}
		default:
			return nil, badRequest("wrong file identifier/HTTP URL specified")
		}
	} else {
		return nil, badRequest("there is no document in the request")
	}
	caption, ents := "", []MessageEntity(nil)
	if raw := r.str("caption"); strings.TrimSpace(raw) != "" {
		var e *apiError
		caption, ents, e = s.formatText(raw, r.str("parse_mode"), r.str("caption_entities"))
		if e != nil {
			return nil, e
		}
		if UTF16Len(caption) > MaxCaptionLength {
			return nil, badRequest("message caption is too long")
		}
	}
	markup, rawMarkup, e := parseReplyMarkup(r.str("reply_markup"))
	if e != nil {
		return nil, e
	}
	var placed Message
	if e := s.placeLocked(c, r, &placed); e != nil {
		return nil, e
	}
	if e := s.paceLocked(r.method, c); e != nil {
		return nil, e
	}
	if sf.id == "" {
		sf = s.storeFileLocked(sf.file)
	}
	sm := s.newBotMessageLocked(c, r)
	m := &sm.msg
	m.MessageThreadID, m.IsTopicMessage, m.ReplyToMessage = placed.MessageThreadID, placed.IsTopicMessage, placed.ReplyToMessage
	m.Document = &Document{FileID: sf.id, FileUniqueID: sf.uniqueID, FileName: sf.file.Name,
		MimeType: sf.file.MimeType, FileSize: int64(len(sf.file.Data))}
	m.Caption, m.CaptionEntities, m.ReplyMarkup = caption, ents, markup
	f := sf.file
	sm.file = &f
	sm.parseMode, sm.rawText, sm.rawMarkup = r.str("parse_mode"), r.str("caption"), rawMarkup
	return sm.msg, nil
}

func (s *Server) mGetFile(r *request) (any, *apiError) {
	sf := s.files[strings.TrimSpace(r.str("file_id"))]
	if sf == nil {
		return nil, badRequest("invalid file_id")
	}
	return map[string]any{"file_id": sf.id, "file_unique_id": sf.uniqueID,
		"file_size": len(sf.file.Data), "file_path": sf.path}, nil
}

// serveFile answers /file/bot<token>/<file_path> downloads.
func (s *Server) serveFile(w http.ResponseWriter, rest string) {
	token, p, _ := strings.Cut(rest, "/")
	if token != s.token {
		writeAPIError(w, errorf(401, "Unauthorized"))
		return
	}
	s.mu.Lock()
	var data []byte
	found := false
	for _, sf := range s.files {
		if sf.path == p {
			data, found = sf.file.Data, true
			break
		}
	}
	s.mu.Unlock()
	if !found {
		writeAPIError(w, errorf(404, "Not Found"))
		return
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	w.Header().Set("Content-Length", strconv.Itoa(len(data)))
	_, _ = w.Write(data)
}

// sourceMessageLocked finds the message a forward/copy refers to.
func (s *Server) sourceMessageLocked(r *request, notFound string) (*chatState, *storedMessage, *apiError) {
	from, e := s.resolveChatLocked(r.str("from_chat_id"))
	if e != nil {
		return nil, nil, e
	}
	if !s.visibleLocked(from) {
		return nil, nil, badRequest("chat not found")
	}
	id, _ := r.int64Param("message_id")
	sm := from.byID[int(id)]
	if sm == nil || sm.deleted {
		return nil, nil, badRequest("%s", notFound)
	}
	return from, sm, nil
}

func (s *Server) mForwardMessage(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.canSendLocked(c, "text messages"); e != nil {
		return nil, e
	}
	from, src, e := s.sourceMessageLocked(r, "message to forward not found")
	if e != nil {
		return nil, e
	}
	if src.msg.IsService() {
		return nil, badRequest("message can't be forwarded")
	}
	var placed Message
	if e := s.placeLocked(c, r, &placed); e != nil {
		return nil, e
	}
	if e := s.paceLocked(r.method, c); e != nil {
		return nil, e
	}
	sm := s.newBotMessageLocked(c, r)
	m := &sm.msg
	m.MessageThreadID, m.IsTopicMessage = placed.MessageThreadID, placed.IsTopicMessage
	m.Text, m.Entities, m.Document, m.Caption, m.CaptionEntities =
		src.msg.Text, src.msg.Entities, src.msg.Document, src.msg.Caption, src.msg.CaptionEntities
	origin := &MessageOrigin{Date: src.msg.Date}
	switch {
	case from.chat.Type == ChatChannel:
		ch := from.chat
		origin.Type, origin.Chat, origin.MessageID, origin.AuthorSignature = "channel", &ch, src.msg.MessageID, src.msg.AuthorSignature
		m.ForwardFromChat, m.ForwardFromMessageID = &ch, src.msg.MessageID
	case src.msg.SenderChat != nil:
		sc := *src.msg.SenderChat
		origin.Type, origin.SenderChat = "chat", &sc
		m.ForwardFromChat = &sc
	case src.msg.From != nil:
		u := *src.msg.From
		origin.Type, origin.SenderUser = "user", &u
		m.ForwardFrom = &u
	}
	m.ForwardOrigin, m.ForwardDate = origin, src.msg.Date
	sm.rawText = src.msg.Text
	return sm.msg, nil
}

func (s *Server) mCopyMessage(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.canSendLocked(c, "text messages"); e != nil {
		return nil, e
	}
	_, src, e := s.sourceMessageLocked(r, "message to copy not found")
	if e != nil {
		return nil, e
	}
	if src.msg.IsService() {
		return nil, badRequest("message can't be copied")
	}
	caption, ents := src.msg.Caption, src.msg.CaptionEntities
	if r.params.Has("caption") {
		var e *apiError
		caption, ents, e = s.formatText(r.str("caption"), r.str("parse_mode"), r.str("caption_entities"))
		if e != nil {
			return nil, e
		}
	}
	markup, rawMarkup, e := parseReplyMarkup(r.str("reply_markup"))
	if e != nil {
		return nil, e
	}
	var placed Message
	if e := s.placeLocked(c, r, &placed); e != nil {
		return nil, e
	}
	if e := s.paceLocked(r.method, c); e != nil {
		return nil, e
	}
	sm := s.newBotMessageLocked(c, r)
	m := &sm.msg
	m.MessageThreadID, m.IsTopicMessage, m.ReplyToMessage = placed.MessageThreadID, placed.IsTopicMessage, placed.ReplyToMessage
	m.Text, m.Entities, m.Document, m.ReplyMarkup = src.msg.Text, src.msg.Entities, src.msg.Document, markup
	if m.Document != nil {
		m.Caption, m.CaptionEntities = caption, ents
	}
	sm.rawText, sm.rawMarkup = src.msg.Text, rawMarkup
	return map[string]int{"message_id": sm.msg.MessageID}, nil
}

// ---------------------------------------------------------------------------
// Editing and deleting

// botMessageLocked finds a message the bot may edit.
func (s *Server) botMessageLocked(r *request) (*chatState, *storedMessage, *apiError) {
	if r.has("inline_message_id") && !r.has("chat_id") {
		return nil, nil, badRequest("MESSAGE_ID_INVALID")
	}
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, nil, e
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return nil, nil, e
	}
	id, ok := r.int64Param("message_id")
	if !ok {
		return nil, nil, badRequest("message identifier is not specified")
	}
	sm := c.byID[int(id)]
	if sm == nil || sm.deleted {
		return nil, nil, badRequest("message to edit not found")
	}
	if !sm.byBot {
		return nil, nil, badRequest("message can't be edited")
	}
	return c, sm, nil
}

func sameJSON(a, b any) bool {
	x, _ := json.Marshal(a)
	y, _ := json.Marshal(b)
	return bytes.Equal(x, y)
}

const notModified = "message is not modified: specified new message content and reply markup are exactly the same as a current content and reply markup of the message"

func (s *Server) mEditMessageText(r *request) (any, *apiError) {
	_, sm, e := s.botMessageLocked(r)
	if e != nil {
		return nil, e
	}
	if sm.msg.Text == "" {
		return nil, badRequest("there is no text in the message to edit")
	}
	t, e := s.parseText(r)
	if e != nil {
		return nil, e
	}
	if t.plain == sm.msg.Text && sameJSON(t.entities, sm.msg.Entities) && sameJSON(t.markup, sm.msg.ReplyMarkup) {
		return nil, badRequest(notModified)
	}
	// Like Telegram, an edit without reply_markup removes the inline keyboard.
	t.setOn(sm)
	sm.msg.EditDate = s.unixLocked()
	sm.edits++
	return sm.msg, nil
}

func (s *Server) mEditMessageReplyMarkup(r *request) (any, *apiError) {
	_, sm, e := s.botMessageLocked(r)
	if e != nil {
		return nil, e
	}
	markup, rawMarkup, e := parseReplyMarkup(r.str("reply_markup"))
	if e != nil {
		return nil, e
	}
	if rawMarkup != "" && markup == nil {
		return nil, badRequest("inline keyboard expected")
	}
	if sameJSON(markup, sm.msg.ReplyMarkup) {
		return nil, badRequest(notModified)
	}
	sm.msg.ReplyMarkup, sm.rawMarkup = markup, rawMarkup
	sm.msg.EditDate = s.unixLocked()
	sm.edits++
	return sm.msg, nil
}

// canDeleteLocked applies Telegram's deleteMessage rules.
func (s *Server) canDeleteLocked(c *chatState, sm *storedMessage) *apiError {
	cannot := badRequest("message can't be deleted")
	if s.unixLocked()-sm.msg.Date >= 48*3600 {
		return cannot
	}
	if sm.msg.ForumTopicCreated != nil || sm.msg.MigrateFromChatID != 0 || sm.msg.GroupChatCreated {
		return cannot
	}
	if c.chat.Type == ChatPrivate {
		return nil
	}
	rights, admin := s.botIsAdminLocked(c)
	switch {
	case sm.byBot && c.chat.Type != ChatChannel:
		return nil
	case c.chat.Type == ChatGroup && admin:
		return nil
	case admin && rights.CanDeleteMessages:
		return nil
	case c.chat.Type == ChatChannel && sm.byBot && admin && rights.CanPostMessages:
		return nil
	}
	return cannot
}

func (s *Server) mDeleteMessage(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return nil, e
	}
	id, ok := r.int64Param("message_id")
	if !ok {
		return nil, badRequest("message identifier is not specified")
	}
	sm := c.byID[int(id)]
	if sm == nil || sm.deleted {
		return nil, badRequest("message to delete not found")
	}
	if e := s.canDeleteLocked(c, sm); e != nil {
		return nil, e
	}
	sm.deleted = true
	s.notifyLocked()
	return true, nil
}

func (s *Server) mDeleteMessages(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return nil, e
	}
	var ids []int
	if err := decodeJSON(r.str("message_ids"), &ids); err != nil {
		return nil, badRequest("can't parse message identifiers JSON object")
	}
	if len(ids) == 0 {
		return nil, badRequest("message identifiers are not specified")
	}
	if len(ids) > 100 {
		return nil, badRequest("too many messages to delete")
	}
	var targets []*storedMessage
	for _, id := range ids {
		sm := c.byID[id]
		if sm == nil || sm.deleted {
			continue // skipped, as documented
		}
		if e := s.canDeleteLocked(c, sm); e != nil {
			return nil, e
		}
		targets = append(targets, sm)
	}
	for _, sm := range targets {
		sm.deleted = true
	}
	s.notifyLocked()
	return true, nil
}

var chatActions = map[string]bool{"typing": true, "upload_photo": true, "record_video": true,
	"upload_video": true, "record_voice": true, "upload_voice": true, "upload_document": true,
	"choose_sticker": true, "find_location": true, "record_video_note": true, "upload_video_note": true}

func (s *Server) mSendChatAction(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.requireBotInChatLocked(c); e != nil {
		return nil, e
	}
	if !chatActions[r.str("action")] {
		return nil, badRequest("wrong parameter action in request")
	}
	return true, nil
}

func (s *Server) pinRightsLocked(c *chatState) *apiError {
	if e := s.requireBotInChatLocked(c); e != nil {
		return e
	}
	if c.chat.Type == ChatPrivate {
		return nil
	}
	rights, admin := s.botIsAdminLocked(c)
	if c.chat.Type == ChatChannel {
		if !admin || !rights.CanEditMessages {
			return badRequest("not enough rights to manage pinned messages in the chat")
		}
		return nil
	}
	if (admin && rights.CanPinMessages) || (!admin && c.permissions.CanPinMessages && c.chat.Username == "") {
		return nil
	}
	return badRequest("not enough rights to manage pinned messages in the chat")
}

func (s *Server) mPinChatMessage(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.pinRightsLocked(c); e != nil {
		return nil, e
	}
	id, _ := r.int64Param("message_id")
	sm := c.byID[int(id)]
	if sm == nil || sm.deleted {
		return nil, badRequest("message to pin not found")
	}
	return true, nil
}

func (s *Server) mUnpinChatMessage(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.pinRightsLocked(c); e != nil {
		return nil, e
	}
	if id, ok := r.int64Param("message_id"); ok {
		if sm := c.byID[int(id)]; sm == nil || sm.deleted {
			return nil, badRequest("message to unpin not found")
		}
	}
	return true, nil
}

func (s *Server) mUnpinAllChatMessages(r *request) (any, *apiError) {
	c, e := s.resolveChatLocked(r.str("chat_id"))
	if e != nil {
		return nil, e
	}
	if e := s.pinRightsLocked(c); e != nil {
		return nil, e
	}
	return true, nil
}
