package wallet

// Rail is what the wallet needs from a money rail (cards, payouts, crypto deposits).
type Rail interface{}
