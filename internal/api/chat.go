package api

import (
	"net/http"
	"strconv"

	"okpay/internal/apperr"
	"okpay/internal/authn"
	"okpay/internal/httpx"
	"okpay/internal/support/chat"
)

// ChatsResponse lists chats.
type ChatsResponse struct {
	Chats []chat.Chat `json:"chats"`
}

// ChatMessagesResponse is one page of a chat's messages.
type ChatMessagesResponse struct {
	Chat     *chat.Chat     `json:"chat"`
	Messages []chat.Message `json:"messages"`
}

// Live chat itself is the WebSocket at /chat/ws (customers) and /agent/chat/ws (agents);
// these routes read the history.
func (a *API) chatRoutes(svc *chat.Service) {
	part := func(p *authn.Principal, r *http.Request) chat.Participant {
		return chat.Participant{ID: p.User.ID, Role: string(p.User.Role), Lang: httpx.Lang(r.Context())}
	}
	a.router.Handle(Route{Method: "GET", Path: "/chats", ID: "listChats", Tag: "chat", Auth: "either",
		Summary: "The caller's live chats, newest first", Response: ChatsResponse{},
		Errors: []string{apperr.CodeUnauthenticated},
		Handler: signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			cs, err := svc.ListMine(r.Context(), part(p, r), chat.MaxPage)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			if cs == nil {
				cs = []chat.Chat{}
			}
			httpx.WriteJSON(w, http.StatusOK, ChatsResponse{Chats: cs})
		})})
	a.router.Handle(Route{Method: "GET", Path: "/chats/{id}/messages", ID: "listChatMessages", Tag: "chat", Auth: "either",
		Summary: "A chat's messages after a seq, in order (the customer's own chats; agents any)", Response: ChatMessagesResponse{},
		Query:  map[string]string{"after": "return messages with seq greater than this", "limit": "at most 200"},
		Errors: []string{apperr.CodeUnauthenticated, apperr.CodeNotFound},
		Handler: signedIn(func(w http.ResponseWriter, r *http.Request, p *authn.Principal) {
			after, _ := strconv.ParseInt(r.URL.Query().Get("after"), 10, 64)
			limit, _ := strconv.Atoi(r.URL.Query().Get("limit"))
			c, err := svc.Get(r.Context(), part(p, r), r.PathValue("id"))
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			ms, err := svc.Messages(r.Context(), part(p, r), c.ID, max(after, 0), limit)
			if err != nil {
				httpx.WriteError(w, r, err)
				return
			}
			if ms == nil {
				ms = []chat.Message{}
			}
			httpx.WriteJSON(w, http.StatusOK, ChatMessagesResponse{Chat: c, Messages: ms})
		})})
}
