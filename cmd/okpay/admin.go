package main

import (
	"context"
	"crypto/rand"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"

	"okpay/internal/apperr"
	"okpay/internal/identity"
	"okpay/internal/server"
)

func init() {
	register(Command{Name: "admin", Summary: "operator account tools: okpay admin create-user | reset-2fa", Run: func(ctx context.Context, args []string) error {
		return runAdmin(ctx, args, os.Stdout)
	}})
}

const adminUsage = `usage: okpay admin <subcommand> [flags]

  create-user --email ADDR --role ROLE [--password PW] [--lang zh-CN|en]
      create an account with a role (customer, merchant, agent, risk_reviewer, admin);
      the email counts as verified. Without --password a strong one is made and printed once.
  reset-2fa --email ADDR --reason TEXT
      turn 2-step verification off for someone who lost their phone and recovery codes,
      after checking their identity outside OKPay. The owner is emailed; the audit log
      records the reason.

Both take the server's --data / --database / --secret-key (or OKPAY_* environment).`

func runAdmin(ctx context.Context, args []string, out io.Writer) error {
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		fmt.Fprintln(os.Stderr, adminUsage)
		if len(args) == 0 {
			return errUsage
		}
		return flag.ErrHelp
	}
	cfg := server.Defaults()
	fs := flag.NewFlagSet("okpay admin "+args[0], flag.ContinueOnError)
	if err := cfg.Bind(fs, os.Getenv); err != nil {
		return err
	}
	email := fs.String("email", "", "the account's email address")
	switch args[0] {
	case "create-user":
		role := fs.String("role", "", "customer, merchant, agent, risk_reviewer or admin")
		password := fs.String("password", "", "the password; empty makes one and prints it")
		lang := fs.String("lang", identity.LangEn, "zh-CN or en")
		if err := parseAdminFlags(fs, args[1:]); err != nil {
			return err
		}
		if *email == "" || *role == "" {
			fmt.Fprintln(os.Stderr, "okpay admin create-user: --email and --role are required")
			return errUsage
		}
		generated := *password == ""
		if generated {
			*password = strongPassword()
		}
		svc, d, err := server.OpenIdentity(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		u, err := svc.CreateUser(ctx, identity.CreateUserInput{Email: *email, Password: *password, Lang: *lang,
			Role: identity.Role(*role), Verified: true})
		if err != nil {
			return explain(err)
		}
		fmt.Fprintf(out, "created %s %s (id %s)\n", u.Role, u.Email, u.ID)
		if generated {
			fmt.Fprintf(out, "password: %s\n(shown once; the person should change it after signing in)\n", *password)
		}
		return nil
	case "reset-2fa":
		reason := fs.String("reason", "", "why, and how the person's identity was checked (recorded in the audit log)")
		if err := parseAdminFlags(fs, args[1:]); err != nil {
			return err
		}
		if *email == "" || strings.TrimSpace(*reason) == "" {
			fmt.Fprintln(os.Stderr, "okpay admin reset-2fa: --email and --reason are required")
			return errUsage
		}
		svc, d, err := server.OpenIdentity(ctx, cfg)
		if err != nil {
			return err
		}
		defer d.Close()
		if err := svc.AdminResetTwoStep(ctx, *email, *reason); err != nil {
			return explain(err)
		}
		fmt.Fprintf(out, "2-step verification is off for %s; they were emailed a notice\n", identity.NormalizeEmail(*email))
		return nil
	}
	fmt.Fprintf(os.Stderr, "okpay admin: unknown subcommand %q\n\n%s\n", args[0], adminUsage)
	return errUsage
}

func parseAdminFlags(fs *flag.FlagSet, args []string) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("unexpected argument %q", fs.Arg(0))
	}
	return nil
}

// explain turns a coded error into the operator's sentence, with field problems spelled out.
func explain(err error) error {
	e, ok := apperr.As(err)
	if !ok {
		return err
	}
	msg := e.Message("en")
	for _, f := range e.Fields {
		msg += "\n  " + f.Field + ": " + f.Message.In("en", e.Params)
	}
	if fix := e.Fix("en"); fix != "" && len(e.Fields) == 0 {
		msg += " " + fix
	}
	return fmt.Errorf("%s (%s)", msg, e.Code)
}

// strongPassword makes a password that meets the platform's rule: 20 random letters and
// digits from crypto/rand, with a symbol and a digit guaranteed.
func strongPassword() string {
	const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
	b := make([]byte, 20)
	if _, err := rand.Read(b); err != nil {
		panic(fmt.Sprintf("random: %v", err))
	}
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b[:10]) + "-" + string(b[10:]) + "#7"
}
