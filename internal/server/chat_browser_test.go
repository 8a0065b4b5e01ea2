package server

import (
	"context"
	"encoding/json"
	"fmt"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"

	"okpay/internal/browsertest"
	"okpay/internal/identity"
	"okpay/internal/support/chat"
	"okpay/internal/wallet"
)

// socketHookJS runs before the page's own scripts and keeps every WebSocket the page opens
// in window.__chatSockets, so that a test can drop the chat connection the way a network
// blip does, without a handle into chat.js.
const socketHookJS = `(function () {
	var Native = window.WebSocket;
	if (!Native) { return; }
	window.__chatSockets = [];
	function Hooked(url, protocols) {
		var s = protocols === undefined ? new Native(url) : new Native(url, protocols);
		window.__chatSockets.push(s);
		return s;
	}
	Hooked.prototype = Native.prototype;
	Hooked.CONNECTING = 0; Hooked.OPEN = 1; Hooked.CLOSING = 2; Hooked.CLOSED = 3;
	window.WebSocket = Hooked;
})()`

// chatLogJS lists the lines of a chat log as "from: text", in the order shown.
func chatLogJS(logSel string) string {
	return fmt.Sprintf(`JSON.stringify([].map.call(document.querySelectorAll(%q), function (e) {
	return e.getAttribute("data-from") + ": " + e.textContent;
}))`, logSel+" .chat-msg")
}

// waitChatLog waits until the log shows exactly want, in order, and fails with what it
// shows (and the widget's status line) when it does not within the step's time.
func waitChatLog(t *testing.T, b *browsertest.Browser, logSel string, want []string) {
	t.Helper()
	var got []string
	for deadline := time.Now().Add(b.Step); ; {
		got = nil
		if err := json.Unmarshal([]byte(b.Eval(chatLogJS(logSel))), &got); err != nil {
			t.Fatal(err)
		}
		if reflect.DeepEqual(got, want) {
			return
		}
		if time.Now().After(deadline) {
			b.Screenshot("chat-log")
			t.Fatalf("%s shows %q, want %q (status %q)", logSel, got, want, b.Eval(`(document.getElementById("chat-status") || {}).textContent || ""`))
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// The customer's side of live chat in a real browser: what they send shows in their own
// chat window at once and goes to the same chat; after a reload, an agent's reply and a
// dropped connection the window still shows every line once, in order; the agent's
// console shows the same conversation.
func TestBrowserChatWidgetShowsOwnMessages(t *testing.T) {
	t.Cleanup(SetChatOpenNow(func(time.Time) bool { return true }))
	app := startWithWallet(t)
	ctx := context.Background()
	mei, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: "mei.chat@example.com", Password: e2ePassword, Verified: true,
		Lang: "en", Role: identity.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: "agent.chat@example.com", Password: e2ePassword, Verified: true,
		Lang: "en", Role: identity.RoleAgent}); err != nil {
		t.Fatal(err)
	}
	const log = "#chat-log"

	c := browsertest.New(t, app.URL())
	c.Step = time.Minute
	if _, err := chromedp.Call(c.Context(), page.AddScriptToEvaluateOnNewDocument, page.AddScriptToEvaluateOnNewDocumentParams{Source: socketHookJS}); err != nil {
		t.Fatal(err)
	}
	e2eSignIn(t, c, mei.Email)
	c.Go("/wallet")
	c.Click("#chat-launch")
	c.Wait("#chat-input")
	c.Fill("#chat-input", "My withdrawal has not arrived.")
	c.Click("#chat-send")
	waitChatLog(t, c, log, []string{"customer: My withdrawal has not arrived."})
	c.WaitText("#chat-status", "number 1 in line")
	c.Fill("#chat-input", "It was 100 CNY to my bank card.")
	c.Click("#chat-send")
	mine := []string{"customer: My withdrawal has not arrived.", "customer: It was 100 CNY to my bank card."}
	waitChatLog(t, c, log, mine)
	c.Screenshot("chat-01-sent")

	// Both lines went into one chat: the second was not taken for the start of another.
	cust := chat.Participant{ID: mei.ID, Role: "customer", Lang: "en"}
	chats, err := app.Support.Chat.ListMine(ctx, cust, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(chats) != 1 {
		t.Fatalf("the customer has %d chats, want 1: %+v", len(chats), chats)
	}
	id := chats[0].ID
	msgs, err := app.Support.Chat.Messages(ctx, cust, id, 0, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(msgs) != 2 || msgs[0].Body != "My withdrawal has not arrived." || msgs[1].Body != "It was 100 CNY to my bank card." {
		t.Fatalf("chat %s holds %+v", id, msgs)
	}

	// A reload mid-chat shows the conversation again, once.
	c.Go("/wallet")
	c.Click("#chat-launch")
	waitChatLog(t, c, log, mine)
	c.WaitText("#chat-status", "number 1 in line")

	// The agent picks the chat up and answers from the console.
	a := browsertest.New(t, app.URL())
	a.Step = time.Minute
	e2eSignIn(t, a, "agent.chat@example.com")
	a.Go("/agent/chat")
	a.Click(`#agent-queue li[data-chat="` + id + `"] button.pickup`)
	pane := `.agent-chat[data-chat="` + id + `"]`
	joined := "system: " + chat.SystemText("agent_joined", "en")
	waitChatLog(t, a, pane, append(append([]string{}, mine...), joined))
	a.Fill(pane+" textarea", "Let me look at it.")
	a.Click(pane + ` button[type="submit"]`)
	withReply := append(append([]string{}, mine...), joined, "agent: Let me look at it.")
	waitChatLog(t, a, pane, withReply)
	waitChatLog(t, c, log, withReply)
	c.WaitText("#chat-status", "An agent has joined")
	c.Screenshot("chat-02-reply")

	// The connection drops, as on a network blip: the widget reconnects, shows every line
	// once and stays usable — its status must not turn into an error meanwhile.
	c.Eval(`(function () { var s = window.__chatSockets; s[s.length - 1].close(); return s.length; })()`)
	for deadline := time.Now().Add(c.Step); c.Eval(`window.__chatSockets.length > 1 && window.__chatSockets[window.__chatSockets.length - 1].readyState === 1`) != "true"; {
		if time.Now().After(deadline) {
			t.Fatal("the chat widget did not reconnect")
		}
		time.Sleep(100 * time.Millisecond)
	}
	c.WaitText("#chat-status", "An agent has joined")
	for end := time.Now().Add(3 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if s := c.Text("#chat-status"); !strings.Contains(s, "An agent has joined") {
			t.Fatalf("after reconnecting the status reads %q", s)
		}
	}
	waitChatLog(t, c, log, withReply)
	c.Fill("#chat-input", "Thank you.")
	c.Click("#chat-send")
	all := append(append([]string{}, withReply...), "customer: Thank you.")
	waitChatLog(t, c, log, all)
	waitChatLog(t, a, pane, all)
	c.Screenshot("chat-03-reconnected")
	if chats, err := app.Support.Chat.ListMine(ctx, cust, 10); err != nil || len(chats) != 1 {
		t.Fatalf("after reconnecting the customer has chats %+v (%v), want the one", chats, err)
	}
}

// phoneTopUp makes a top-up waiting for the bank's one-time code, the page whose "Confirm
// top-up" button the floating chat launcher used to cover on a phone.
func phoneTopUp(t *testing.T, app *App, u *identity.User) string {
	t.Helper()
	ctx := context.Background()
	si, err := app.Identity.SignIn(ctx, identity.SignInInput{Email: u.Email, Password: e2ePassword}, identity.Client{IP: "127.0.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	card, err := app.Wallet.AddCard(ctx, wallet.AddCardInput{UserID: u.ID, SessionID: si.Session.ID, Number: "4000002760003184", ExpMonth: "12",
		ExpYear: "2030", Holder: "王芳", CVV: "123"})
	if err != nil {
		t.Fatal(err)
	}
	op, err := app.Rail.Get(ctx, "v-"+card.ID)
	if err != nil {
		t.Fatal(err)
	}
	code, _ := strings.CutPrefix(op.Descriptor, "OKPAY*VERIFY ")
	if _, err := app.Wallet.VerifyCard(ctx, u.ID, card.ID, code); err != nil {
		t.Fatal(err)
	}
	top, err := app.Wallet.TopUp(ctx, wallet.TopUpInput{UserID: u.ID, Key: "phone-top", CardID: card.ID, Amount: "10", Asset: "CNY"})
	if err != nil {
		t.Fatal(err)
	}
	if top.NextStep != "card_otp_required" {
		t.Fatalf("top-up %+v does not wait for a code", top)
	}
	return top.ID
}

// launcherCoversJS lists what in the page the chat launcher lies over, scrolling through
// the whole page a screen's third at a time and checking at each stop.
const launcherCoversJS = `(function () {
	var l = document.getElementById("chat-launch");
	if (!l || l.hidden) { return JSON.stringify({missing: true}); }
	var out = {covers: []};
	var end = document.documentElement.scrollHeight - window.innerHeight;
	for (var y = 0; ; y = Math.min(y + Math.ceil(window.innerHeight / 3), end)) {
		window.scrollTo(0, y);
		var r = l.getBoundingClientRect();
		document.querySelectorAll("main *, footer *").forEach(function (e) {
			var q = e.getBoundingClientRect();
			if (e.contains(l) || !q.width || !q.height || e.children.length && !/^(A|BUTTON|LABEL|P|H1|H2|H3|LI|TD|TH|DT|DD)$/.test(e.tagName)) { return; }
			if (q.left < r.right && q.right > r.left && q.top < r.bottom && q.bottom > r.top) {
				out.covers.push({scroll: y, tag: e.tagName, text: (e.textContent || e.value || "").trim().slice(0, 40),
					launcher: [r.left, r.top, r.right, r.bottom], box: [q.left, q.top, q.right, q.bottom]});
			}
		});
		if (y >= end) { break; }
	}
	window.scrollTo(0, 0);
	return JSON.stringify(out);
})()`

type coverReport struct {
	Missing bool `json:"missing"`
	Covers  []struct {
		Scroll        float64
		Tag, Text     string
		Launcher, Box []float64
	} `json:"covers"`
}

// On a phone the "Chat with us" launcher is over nothing on the page, wherever the page
// is scrolled: not the main button of a top-up waiting for the bank's code, nor the
// wallet's buttons, nor the request-money page. The customer reads Chinese, as the tester
// who found it did.
func TestBrowserChatLauncherOnPhone(t *testing.T) {
	t.Cleanup(SetChatOpenNow(func(time.Time) bool { return true }))
	app := startWithWallet(t)
	ctx := context.Background()
	wang, err := app.Identity.CreateUser(ctx, identity.CreateUserInput{Email: "wang.phone@example.com", Password: e2ePassword, Verified: true,
		Lang: "zh-CN", Role: identity.RoleCustomer})
	if err != nil {
		t.Fatal(err)
	}
	top := phoneTopUp(t, app, wang)

	b := browsertest.New(t, app.URL())
	b.Step = time.Minute
	vctx, cancel := context.WithTimeout(b.Context(), b.Step)
	if err := chromedp.Do(vctx, chromedp.EmulateViewport(390, 844, chromedp.EmulateMobile)); err != nil {
		t.Fatal(err)
	}
	cancel()
	e2eSignIn(t, b, wang.Email)
	for _, p := range []string{"/wallet", "/wallet/top-up/" + top, "/wallet/request"} {
		b.Go(p)
		b.Wait("#chat-launch")
		b.Screenshot("phone" + strings.ReplaceAll(p, "/", "_"))
		var r coverReport
		if err := json.Unmarshal([]byte(b.Eval(launcherCoversJS)), &r); err != nil {
			t.Fatal(err)
		}
		if r.Missing {
			t.Fatalf("%s: no chat launcher", p)
		}
		for _, c := range r.Covers {
			t.Errorf("%s: scrolled to %v the chat launcher %v lies over <%s> %q %v", p, c.Scroll, c.Launcher, c.Tag, c.Text, c.Box)
		}
	}
	// The launcher still opens the chat.
	b.Click("#chat-launch")
	b.Wait("#chat-input")
}
