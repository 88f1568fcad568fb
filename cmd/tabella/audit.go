package main

import (
	"encoding/csv"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/schollz/progressbar/v3"
	"github.com/spf13/cobra"
	"golang.org/x/term"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/tabella/tabella/client"
	"github.com/tabella/tabella/ledger"
	tabellav1 "github.com/tabella/tabella/proto/tabella/v1"
)

type auditFlags struct {
	rpc, genesis string
	to           int64
}

func (f *auditFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.rpc, "rpc", "", "CometBFT RPC address of the node to audit (default: the address --node reports)")
	cmd.Flags().StringVar(&f.genesis, "genesis", "", "trusted genesis.json (default: the node's own, whose hash you should compare with the published one)")
	cmd.Flags().Int64Var(&f.to, "to-height", 0, "stop at this height (default: the node's tip)")
}

func (f *auditFlags) run(cmd *cobra.Command, c *cli) (*client.AuditReport, error) {
	ctx := cmd.Context()
	rpc := f.rpc
	if rpc == "" {
		cl, cctx, done, err := c.dial(cmd)
		if err != nil {
			return nil, err
		}
		info, err := cl.GetChainInfo(cctx, &tabellav1.GetChainInfoRequest{})
		done()
		if err != nil {
			return nil, fmt.Errorf("ask --node for its RPC address (or pass --rpc): %s", client.Describe(err))
		}
		rpc = info.RpcAddress
	}
	o := client.AuditOptions{RPC: rpc, ToHeight: f.to, GenesisFile: f.genesis}
	var bar *progressbar.ProgressBar
	if term.IsTerminal(int(os.Stderr.Fd())) {
		o.Progress = func(h, tip, ballots int64) {
			if bar == nil {
				bar = progressbar.NewOptions64(tip,
					progressbar.OptionSetDescription("re-executing"),
					progressbar.OptionSetWriter(os.Stderr),
					progressbar.OptionShowCount(),
					progressbar.OptionShowIts(),
					progressbar.OptionSetItsString("blocks"),
					progressbar.OptionSetPredictTime(true),
					progressbar.OptionThrottle(100*time.Millisecond),
					progressbar.OptionClearOnFinish(),
				)
			}
			_ = bar.Set64(h)
		}
	}
	rep, err := client.Audit(ctx, o)
	if bar != nil {
		_ = bar.Finish()
	}
	return rep, err
}

func newAuditCmd(c *cli) *cobra.Command {
	var af auditFlags
	cmd := &cobra.Command{
		Use:   "audit",
		Short: "Re-execute the whole chain from genesis and check every commit, app hash and tally",
		Long: `Fetch every block and commit from the node, verify each commit against the
validator set as it evolves, re-execute every transaction in a fresh in-memory
ledger, and compare the app hash and the transaction results at every height.
Finally compare every initiative and tally the node serves with the re-executed
state. Exits non-zero on any divergence, naming the first height (and tx).`,
		Example: `  tabella audit --rpc http://127.0.0.1:26657 --genesis genesis.json
  tabella audit export --initiative aarhus-parks --out record/`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			out := cmd.OutOrStdout()
			rep, err := af.run(cmd, c)
			if err != nil {
				var d *client.Divergence
				if errors.As(err, &d) {
					fmt.Fprintf(out, "✘ AUDIT FAILED: %v\n", d)
					return fmt.Errorf("audit failed at height %d", d.Height)
				}
				return err
			}
			return c.print(out, auditSummary(rep), func(w io.Writer) { printAudit(w, rep) })
		},
	}
	af.register(cmd)

	var ef auditFlags
	var initiative, dir string
	export := &cobra.Command{
		Use:   "export",
		Short: "Audit, then write an initiative's ballots and result as an open election record (CSV and JSON)",
		Example: `  tabella audit export --initiative aarhus-parks --out record/
  # then open record/ballots.csv in a spreadsheet: each option's column sums to its count`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			rep, err := ef.run(cmd, c)
			if err != nil {
				return err
			}
			n, err := exportRecord(rep, initiative, dir)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "Audited heights 1..%d; wrote %d live ballots of %s to %s (ballots.csv, ballots.json, superseded.csv, initiative.json, tally.json, README.txt)\n", rep.Heights, n, initiative, dir)
			return nil
		},
	}
	ef.register(export)
	export.Flags().StringVar(&initiative, "initiative", "", "initiative id")
	export.Flags().StringVar(&dir, "out", "", "output directory")
	_ = export.MarkFlagRequired("initiative")
	_ = export.MarkFlagRequired("out")
	cmd.AddCommand(export)
	return cmd
}

type auditJSON struct {
	ChainID     string  `json:"chain_id"`
	GenesisHash string  `json:"genesis_hash"`
	Heights     int64   `json:"heights"`
	Txs         int64   `json:"txs"`
	Ballots     int64   `json:"ballots"`
	Rejected    int64   `json:"rejected"`
	Seconds     float64 `json:"seconds"`
	AppHash     string  `json:"app_hash"`
	// Sealed initiatives: proofs re-verified by re-execution.
	SealedBallots    int64 `json:"sealed_ballots"`
	DecryptionShares int64 `json:"decryption_shares"`
	Deals            int64 `json:"deals"`
	Complaints       int64 `json:"complaints"`
}

func auditSummary(r *client.AuditReport) auditJSON {
	return auditJSON{r.ChainID, hex.EncodeToString(r.GenesisHash), r.Heights, r.Txs, r.Ballots, r.Rejected, r.Duration.Seconds(), hex.EncodeToString(r.AppHash),
		r.SealedBallots, r.DecryptionShares, r.Deals, r.Complaints}
}

func printAudit(w io.Writer, r *client.AuditReport) {
	rate := float64(r.Ballots) / r.Duration.Seconds()
	fmt.Fprintf(w, "✔ Audit passed: chain %s, heights %d..%d re-executed and every commit verified;\n  the state served at the tip (%d) equals the re-executed state.\n", r.ChainID, r.First, r.Heights, r.Latest)
	fmt.Fprintf(w, "  %d txs (%d accepted ballots, %d txs rejected by the ledger) in %s (%.0f ballots/s)\n", r.Txs, r.Ballots, r.Rejected, r.Duration.Round(time.Millisecond), rate)
	if r.SealedBallots+r.DecryptionShares+r.Deals > 0 {
		fmt.Fprintf(w, "  sealed: re-verified the proofs of %d sealed ballots (0/1 per option, selection count, budget) and %d decryption shares (DLEQ), and %d key ceremony deals and %d upheld complaints\n", r.SealedBallots, r.DecryptionShares, r.Deals, r.Complaints)
	}
	fmt.Fprintf(w, "  genesis SHA-256 %x\n  app hash at %d: %X (equal to header %d)\n", r.GenesisHash, r.Heights, r.AppHash, r.Heights+1)
	v, err := r.Ledger.View(r.Heights)
	if err != nil {
		return
	}
	list, _, _ := v.Initiatives(0, "", 500)
	for _, in := range list {
		if full, err := v.Initiative(in.Spec.Id); err == nil && full != nil {
			in = full // with the options that come from proposals
		}
		t, err := v.Tally(in.Spec.Id)
		if err != nil {
			continue
		}
		var parts []string
		for i, n := range t.Counts {
			parts = append(parts, fmt.Sprintf("%s %d", optionID(in.Spec, uint32(i)), n))
		}
		fmt.Fprintf(w, "  %-20s %-9s %s; turnout %d\n", in.Spec.Id, trimEnum(in.Status.String()), strings.Join(parts, ", "), t.Turnout)
	}
}

// exportRecord writes the open election record of one initiative.
func exportRecord(rep *client.AuditReport, initiative, dir string) (int, error) {
	v, err := rep.Ledger.View(rep.Heights)
	if err != nil {
		return 0, err
	}
	in, err := v.Initiative(initiative)
	if err != nil {
		return 0, err
	}
	if in == nil {
		return 0, fmt.Errorf("initiative %q does not exist at height %d", initiative, rep.Heights)
	}
	tally, err := v.Tally(initiative)
	if err != nil {
		return 0, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	pj := protojson.MarshalOptions{Indent: "  ", EmitUnpopulated: true}
	write := func(name string, b []byte) error {
		return os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644)
	}
	b, err := pj.Marshal(in)
	if err != nil {
		return 0, err
	}
	if err := write("initiative.json", b); err != nil {
		return 0, err
	}
	if b, err = pj.Marshal(tally); err != nil {
		return 0, err
	}
	if err := write("tally.json", b); err != nil {
		return 0, err
	}

	type ballotJSON struct {
		Voter      string   `json:"voter"`
		Sequence   uint64   `json:"sequence"`
		Height     int64    `json:"height"`
		BallotHash string   `json:"ballot_hash"`
		Issuer     string   `json:"issuer"`
		Selections []string `json:"selections"`
		Tx         string   `json:"tx"`
		// SealedBallot (sealed initiatives) is the encrypted ballot with
		// its proofs, hex; selections are then empty.
		SealedBallot string `json:"sealed_ballot,omitempty"`
	}
	isSealed := ledger.Sealed(in.Spec)
	header := []string{"voter", "sequence", "height", "ballot_hash", "issuer"}
	for _, o := range in.Spec.Options {
		header = append(header, o.Id)
	}
	header = append(header, "tx")
	writeCSV := func(name string, each func(func(*tabellav1.BallotRecord) error) error) ([]ballotJSON, error) {
		f, err := os.Create(filepath.Join(dir, name))
		if err != nil {
			return nil, err
		}
		defer f.Close()
		w := csv.NewWriter(f)
		_ = w.Write(header)
		var all []ballotJSON
		err = each(func(b *tabellav1.BallotRecord) error {
			// Every exported ballot is re-checked: voter's signature
			// and hash, as a recounter would.
			if err := client.VerifyBallot(rep.ChainID, initiative, b.Voter, b.BallotHash, b); err != nil {
				return err
			}
			row := []string{hex.EncodeToString(b.Voter), strconv.FormatUint(b.Sequence, 10), strconv.FormatInt(b.Height, 10), hex.EncodeToString(b.BallotHash), b.IssuerId}
			marks := make([]string, len(in.Spec.Options))
			for i := range marks {
				marks[i] = "0"
				if isSealed {
					marks[i] = "" // encrypted: only the tally is decrypted
				}
			}
			bj := ballotJSON{Voter: row[0], Sequence: b.Sequence, Height: b.Height, BallotHash: row[3], Issuer: b.IssuerId, Tx: hex.EncodeToString(b.Tx)}
			if b.Sealed {
				if body, err := ledger.DecodeTxUnverified(b.Tx); err == nil {
					bj.SealedBallot = hex.EncodeToString(body.GetCastBallot().GetSealedBallot())
				}
			}
			for _, s := range b.Selections {
				marks[s] = "1"
				bj.Selections = append(bj.Selections, in.Spec.Options[s].Id)
			}
			row = append(append(row, marks...), bj.Tx)
			all = append(all, bj)
			return w.Write(row)
		})
		w.Flush()
		if err == nil {
			err = w.Error()
		}
		return all, err
	}
	live, err := writeCSV("ballots.csv", func(fn func(*tabellav1.BallotRecord) error) error { return v.Ballots(initiative, fn) })
	if err != nil {
		return 0, err
	}
	if _, err := writeCSV("superseded.csv", func(fn func(*tabellav1.BallotRecord) error) error { return v.SupersededBallots(initiative, fn) }); err != nil {
		return 0, err
	}
	if b, err = json.MarshalIndent(live, "", "  "); err != nil {
		return 0, err
	}
	if err := write("ballots.json", b); err != nil {
		return 0, err
	}
	if isSealed {
		if err := exportSealed(rep, v, in, tally, write); err != nil {
			return 0, err
		}
	}
	readme := fmt.Sprintf(`Open election record of %q on chain %s, audited at height %d.

ballots.csv     one row per live ballot (the one counted for each voter). Each
                option has a column holding 1 when the ballot selects it: the
                column's sum is the option's count in tally.json.
superseded.csv  ballots replaced by a later ballot of the same voter (revotes);
                they are not counted.
ballots.json    the live ballots as JSON.
tally.json      the tally at height %d; initiative.json the initiative with its
                rules and, once closed, the frozen result.

Every row carries the voter's whole signed tx (hex, a tabella.v1.Tx): anyone can
check the voter's ed25519 signature over "tabella/v1" || chain_id || body and the
credential inside it, or in an anonymous initiative the blind-signed token, with
the issuer's blind key in initiative.json (docs/protocol.md). ballot_hash is
SHA-256 of tx.
`, initiative, rep.ChainID, rep.Heights, rep.Heights)
	if isSealed {
		readme += `
This initiative is SEALED: each ballot's option columns are empty, its encrypted
ballot and proofs are in ballots.json (sealed_ballot), and sealed.json holds the
key ceremony (trustee keys, deals, upheld complaints, joint and verification
keys), the encrypted tally and the trustees' decryption shares. The exporter
re-checked all of it: every deal, the joint key from the qualified deals, every
ballot proof, that the live ballots add up to the encrypted tally, every share's
DLEQ proof, and that the shares decrypt the tally to the result's counts.
docs/election-record.md specifies every file and check for an independent
verifier.
`
	}
	if err := write("README.txt", []byte(readme)); err != nil {
		return 0, err
	}
	return len(live), nil
}

// exportSealed writes sealed.json, the key ceremony and decryption record
// of a sealed initiative, after re-checking it end to end.
func exportSealed(rep *client.AuditReport, v *ledger.View, in *tabellav1.Initiative, tally *tabellav1.Tally, write func(string, []byte) error) error {
	id := in.Spec.Id
	rec, err := v.Sealed(id)
	if err != nil {
		return err
	}
	if rec == nil {
		return fmt.Errorf("sealed initiative %q has no sealed record", id)
	}
	var live []*tabellav1.BallotRecord
	if err := v.Ballots(id, func(b *tabellav1.BallotRecord) error { live = append(live, b); return nil }); err != nil {
		return err
	}
	var result *tabellav1.Result
	if in.Status == tabellav1.InitiativeStatus_INITIATIVE_STATUS_CLOSED {
		result = in.Result
	}
	check, err := client.VerifySealedRecord(rep.ChainID, in.Spec, rec.State, rec.Deals, rec.Shares, live, tally.Encrypted, result)
	if err != nil {
		return fmt.Errorf("the sealed record of %q does not verify: %w", id, err)
	}
	type item struct {
		Trustee uint32 `json:"trustee"`
		Party   string `json:"party"`
		Data    string `json:"data"`
	}
	party := func(i uint32) string { return in.Spec.Sealed.TrusteePartyIds[i-1] }
	out := struct {
		ChainID        string          `json:"chain_id"`
		InitiativeID   string          `json:"initiative_id"`
		DKGContext     string          `json:"dkg_context"`
		DecryptContext string          `json:"decrypt_context"`
		BallotContext  string          `json:"ballot_context_prefix"`
		State          json.RawMessage `json:"state"`
		Deals          []item          `json:"deals"`
		Complaints     []string        `json:"complaints"`
		Shares         []item          `json:"shares"`
		EncryptedTally string          `json:"encrypted_tally"`
		Verified       any             `json:"verified"`
	}{
		ChainID:        rep.ChainID,
		InitiativeID:   id,
		DKGContext:     hex.EncodeToString(ledger.SealedDKGContext(rep.ChainID, id)),
		DecryptContext: hex.EncodeToString(ledger.SealedDecryptContext(rep.ChainID, id)),
		BallotContext:  hex.EncodeToString(ledger.SealedBallotContext(rep.ChainID, id, nil)),
		EncryptedTally: hex.EncodeToString(tally.Encrypted),
		Complaints:     []string{},
		Verified: map[string]any{
			"deals": check.Deals, "ballots": check.Ballots, "shares": check.Shares, "counts": check.Counts,
		},
	}
	st, err := protojson.MarshalOptions{EmitUnpopulated: true}.Marshal(rec.State)
	if err != nil {
		return err
	}
	out.State = st
	for i, d := range rec.Deals {
		out.Deals = append(out.Deals, item{rec.State.Dealt[i], party(rec.State.Dealt[i]), hex.EncodeToString(d)})
	}
	for _, c := range rec.Complaints {
		out.Complaints = append(out.Complaints, hex.EncodeToString(c))
	}
	for i, sh := range rec.Shares {
		out.Shares = append(out.Shares, item{rec.State.Shared[i], party(rec.State.Shared[i]), hex.EncodeToString(sh)})
	}
	b, err := json.MarshalIndent(out, "", "  ")
	if err != nil {
		return err
	}
	return write("sealed.json", b)
}
