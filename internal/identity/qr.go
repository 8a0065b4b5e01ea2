package identity

import (
	"fmt"
	"strings"

	"rsc.io/qr"
)

// QRSVG draws text as a QR code in SVG (error correction M, 4-module quiet zone). The
// matrix comes from rsc.io/qr; drawing it here keeps the page free of images and scripts
// and lets it scale crisply on any screen.
func QRSVG(text string) (string, error) {
	code, err := qr.Encode(text, qr.M)
	if err != nil {
		return "", fmt.Errorf("qr encode: %w", err)
	}
	const quiet = 4
	n := code.Size + 2*quiet
	var path strings.Builder
	for y := 0; y < code.Size; y++ {
		for x := 0; x < code.Size; {
			if !code.Black(x, y) {
				x++
				continue
			}
			run := 1
			for x+run < code.Size && code.Black(x+run, y) {
				run++
			}
			// One rectangle per horizontal run keeps the path about a third the size.
			fmt.Fprintf(&path, "M%d %dh%dv1h-%dz", x+quiet, y+quiet, run, run)
			x += run
		}
	}
	return fmt.Sprintf(`<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 %d %d" width="%d" height="%d" shape-rendering="crispEdges" role="img" aria-label="QR code">`+
		`<rect width="100%%" height="100%%" fill="#fff"/><path fill="#000" d="%s"/></svg>`, n, n, n*6, n*6, path.String()), nil
}
