package httpapi

import (
	"fmt"
	"strconv"
)

// Charts drawn on the server as inline SVG, so that the pages stay free
// of script and the CSP strict: the template writes each shape's numbers
// and classes (colours come from the stylesheet), never markup from here.

// svgChart is a bar chart ready for the "chart" template.
type svgChart struct {
	ID            string
	Title         string
	Width, Height int
	Bars          []svgBar
	Texts         []svgText
	Legend        []svgLegend
	Lines         []svgLine
}

type svgBar struct {
	X, Y, W, H string
	Class      string
	Title      string // shown on hover, and read by screen readers
}

type svgText struct {
	X, Y   string
	Anchor string // start, middle, end
	Text   string
}

type svgLegend struct {
	X, Y, TX, TY string
	Class, Text  string
}

type svgLine struct{ X1, Y1, X2, Y2 string }

// chartSeries is one series of a bar chart: a value per column.
type chartSeries struct {
	Class, Label string
	Values       []int
}

// Chart geometry, in the viewBox's units.
const (
	chartW      = 720
	chartH      = 260
	chartLeft   = 44
	chartRight  = 8
	chartTop    = 34
	chartBottom = 26
)

func num(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) }

// barChart draws one column per label: the series stacked, or side by
// side when stacked is false. Every columnth label is written under the
// axis.
func barChart(id, title string, labels []string, series []chartSeries, stacked bool, every int) svgChart {
	c := svgChart{ID: id, Title: title, Width: chartW, Height: chartH}
	plotW := float64(chartW - chartLeft - chartRight)
	plotH := float64(chartH - chartTop - chartBottom)
	top := 0
	for i := range labels {
		sum := 0
		for _, s := range series {
			if i < len(s.Values) {
				if stacked {
					sum += s.Values[i]
				} else {
					sum = max(sum, s.Values[i])
				}
			}
		}
		top = max(top, sum)
	}
	top = niceCeil(top)
	scale := plotH / float64(top)
	// Axis: 0, half, top.
	for _, v := range []int{0, top / 2, top} {
		y := float64(chartTop) + plotH - float64(v)*scale
		c.Lines = append(c.Lines, svgLine{num(chartLeft), num(y), num(chartW - chartRight), num(y)})
		c.Texts = append(c.Texts, svgText{X: num(chartLeft - 4), Y: num(y + 4), Anchor: "end", Text: strconv.Itoa(v)})
	}
	n := max(len(labels), 1)
	colW := plotW / float64(n)
	barW := colW * 0.8
	if !stacked && len(series) > 0 {
		barW /= float64(len(series))
	}
	for i, label := range labels {
		x := float64(chartLeft) + float64(i)*colW + colW*0.1
		base := float64(chartTop) + plotH
		for j, s := range series {
			if i >= len(s.Values) || s.Values[i] == 0 {
				continue
			}
			h := float64(s.Values[i]) * scale
			bx := x
			if stacked {
				base -= h
			} else {
				bx = x + float64(j)*barW
				base = float64(chartTop) + plotH - h
			}
			c.Bars = append(c.Bars, svgBar{X: num(bx), Y: num(base), W: num(barW), H: num(h), Class: s.Class,
				Title: fmt.Sprintf("%s · %s: %d", label, s.Label, s.Values[i])})
		}
		if every > 0 && i%every == 0 {
			c.Texts = append(c.Texts, svgText{X: num(x + colW*0.4), Y: num(chartH - 8), Anchor: "middle", Text: label})
		}
	}
	lx := float64(chartLeft)
	for _, s := range series {
		c.Legend = append(c.Legend, svgLegend{X: num(lx), Y: "8", TX: num(lx + 16), TY: "19", Class: s.Class, Text: s.Label})
		lx += 24 + 8*float64(len([]rune(s.Label)))
	}
	return c
}

// niceCeil rounds n up to 1, 2, 4 or 5 times a power of ten (at least 2, so
// that the half-way line is a whole number).
func niceCeil(n int) int {
	if n <= 2 {
		return 2
	}
	for p := 1; ; p *= 10 {
		for _, m := range []int{1, 2, 4, 5} {
			if m*p >= n && m*p%2 == 0 {
				return m * p
			}
		}
	}
}
