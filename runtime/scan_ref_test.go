package runtime

import "math"

// selectiveScanRef evaluates the forward-only scan of ops/README.md in
// float64 for batch 1: dt = softplus(delta + bias), h_t = exp(dt*A) h_{t-1} +
// dt*B_t*u_t, y_t = (<h_t, C_t> + D*u_t) * SiLU(z_t).
func selectiveScanRef(in map[string]*Tensor, L, D, N int) []float64 {
	u, delta, a := in["u"].Data, in["delta"].Data, in["A"].Data
	b, c, dskip := in["B"].Data, in["C"].Data, in["D"].Data
	bias, z := in["delta_bias"].Data, in["z"].Data
	y := make([]float64, L*D)
	for d := 0; d < D; d++ {
		h := make([]float64, N)
		for t := 0; t < L; t++ {
			dt := float64(delta[t*D+d]) + float64(bias[d])
			if dt <= 20 {
				dt = math.Log1p(math.Exp(dt))
			}
			ut := float64(u[t*D+d])
			acc := 0.0
			for n := 0; n < N; n++ {
				h[n] = math.Exp(dt*float64(a[d*N+n]))*h[n] + dt*float64(b[t*N+n])*ut
				acc += h[n] * float64(c[t*N+n])
			}
			zt := float64(z[t*D+d])
			y[t*D+d] = (acc + float64(dskip[d])*ut) * zt / (1 + math.Exp(-zt))
		}
	}
	return y
}
