package web

import (
	"fmt"
	"html"
	"html/template"
	"net/http"
	"strings"

	"okpay/internal/wallet"
)

// charts are the analysis page's SVG charts, drawn here so the page needs no script, plus
// the figures as tables (what a screen reader reads).
type charts struct {
	Months, Categories, Counterparties template.HTML
	Income, Spending, Net              string
	Rows                               []chartRow
	CatRows                            []chartRow
	TopRows                            []chartRow
	Empty                              bool
}

type chartRow struct {
	Label, In, Out string
	Count          int64
}

// Chart geometry, in SVG user units (the SVG scales to the page width).
const (
	chartW      = 640
	chartH      = 240
	chartPad    = 36
	barRowH     = 28
	barLabelW   = 170
	maxBarItems = 10
)

func (u *UI) catLabel(r *http.Request, cat string) string {
	switch cat {
	case wallet.CatTransfers, wallet.CatTopUps, wallet.CatWithdrawals, wallet.CatRefunds, wallet.CatFees, wallet.CatDeposits, wallet.CatRequests, wallet.CatShopping:
		return u.tr(r, "w.cat."+cat)
	}
	return cat // a merchant's own category word
}

func (u *UI) chartsOf(r *http.Request, an *wallet.Analysis) *charts {
	f := func(m int64) string { return fmtMinor(m, an.Asset) }
	c := &charts{Income: f(an.IncomeMinor), Spending: f(an.SpendingMinor), Net: f(an.IncomeMinor - an.SpendingMinor)}
	c.Empty = an.IncomeMinor == 0 && an.SpendingMinor == 0 && len(an.Categories) == 0
	for _, m := range an.Months {
		c.Rows = append(c.Rows, chartRow{Label: m.Month, In: f(m.IncomeMinor), Out: f(m.SpendingMinor)})
	}
	for _, k := range an.Categories {
		c.CatRows = append(c.CatRows, chartRow{Label: u.catLabel(r, k.Category), In: f(k.InMinor), Out: f(k.OutMinor), Count: k.Count})
	}
	for _, k := range an.TopCounterparties {
		c.TopRows = append(c.TopRows, chartRow{Label: k.Counterparty, Out: f(k.OutMinor), Count: k.Count})
	}
	c.Months = monthBars(an, u.tr(r, "w.an.income"), u.tr(r, "w.an.spending"))
	var cats []hbar
	for _, k := range an.Categories {
		if k.OutMinor > 0 {
			cats = append(cats, hbar{u.catLabel(r, k.Category), k.OutMinor, f(k.OutMinor)})
		}
	}
	c.Categories = hbars(cats, "cat")
	var tops []hbar
	for _, k := range an.TopCounterparties {
		tops = append(tops, hbar{k.Counterparty, k.OutMinor, f(k.OutMinor)})
	}
	c.Counterparties = hbars(tops, "top")
	return c
}

// monthBars draws income and spending side by side per month, on one scale.
func monthBars(an *wallet.Analysis, inLabel, outLabel string) template.HTML {
	var max int64 = 1
	for _, m := range an.Months {
		max = max64(max, max64(m.IncomeMinor, m.SpendingMinor))
	}
	n := max64(int64(len(an.Months)), 1)
	slot := float64(chartW-2*chartPad) / float64(n)
	bw := slot * 0.35
	plotH := float64(chartH - 2*chartPad)
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart chart-months" id="chart-months" viewBox="0 0 %d %d" role="img" aria-label="%s / %s">`, chartW, chartH,
		html.EscapeString(inLabel), html.EscapeString(outLabel))
	base := float64(chartH - chartPad)
	fmt.Fprintf(&b, `<line class="axis" x1="%d" y1="%.1f" x2="%d" y2="%.1f"/>`, chartPad, base, chartW-chartPad, base)
	for i, m := range an.Months {
		x := float64(chartPad) + slot*float64(i) + slot*0.12
		hIn := plotH * float64(m.IncomeMinor) / float64(max)
		hOut := plotH * float64(m.SpendingMinor) / float64(max)
		fmt.Fprintf(&b, `<rect class="bar-in" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s</title></rect>`,
			x, base-hIn, bw, hIn, html.EscapeString(m.Month), html.EscapeString(inLabel))
		fmt.Fprintf(&b, `<rect class="bar-out" x="%.1f" y="%.1f" width="%.1f" height="%.1f"><title>%s %s</title></rect>`,
			x+bw+2, base-hOut, bw, hOut, html.EscapeString(m.Month), html.EscapeString(outLabel))
		fmt.Fprintf(&b, `<text class="tick" x="%.1f" y="%.1f" text-anchor="middle">%s</text>`, x+bw, base+16, html.EscapeString(m.Month[2:]))
	}
	fmt.Fprintf(&b, `<rect class="bar-in" x="%d" y="8" width="12" height="12"/><text class="legend" x="%d" y="19">%s</text>`, chartPad, chartPad+16, html.EscapeString(inLabel))
	fmt.Fprintf(&b, `<rect class="bar-out" x="%d" y="8" width="12" height="12"/><text class="legend" x="%d" y="19">%s</text>`, chartPad+140, chartPad+156, html.EscapeString(outLabel))
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it is escaped above
}

type hbar struct {
	label string
	v     int64
	shown string
}

// hbars draws one horizontal bar per item, longest first (as given), at most maxBarItems.
func hbars(items []hbar, id string) template.HTML {
	if len(items) > maxBarItems {
		items = items[:maxBarItems]
	}
	var top int64 = 1
	for _, it := range items {
		top = max64(top, it.v)
	}
	h := barRowH*len(items) + 8
	var b strings.Builder
	fmt.Fprintf(&b, `<svg class="chart chart-bars" id="chart-%s" viewBox="0 0 %d %d" role="img">`, id, chartW, max(h, barRowH))
	plotW := float64(chartW - barLabelW - 110)
	for i, it := range items {
		y := i*barRowH + 4
		label := []rune(it.label)
		if len(label) > 18 {
			label = append(label[:17], '…')
		}
		w := plotW * float64(it.v) / float64(top)
		fmt.Fprintf(&b, `<text class="label" x="0" y="%d">%s</text>`, y+17, html.EscapeString(string(label)))
		fmt.Fprintf(&b, `<rect class="bar-out" x="%d" y="%d" width="%.1f" height="%d"><title>%s</title></rect>`, barLabelW, y+3, w, barRowH-10, html.EscapeString(it.shown))
		fmt.Fprintf(&b, `<text class="value" x="%.1f" y="%d">%s</text>`, float64(barLabelW)+w+6, y+17, html.EscapeString(it.shown))
	}
	b.WriteString(`</svg>`)
	return template.HTML(b.String()) // every text in it is escaped above
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}
