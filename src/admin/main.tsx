// The admin page: a small Preact app over the admin JSON API, served by jellycli from assets built
// into the executable. Hash routes (#/credentials …) so one HTML file serves every screen.
import { render } from "preact";
import { useEffect, useState } from "preact/hooks";
import { api, ApiError, onUnauthorized } from "./api.ts";
import { useHashRoute } from "./hooks.ts";
import { CredentialsPage } from "./pages/credentials.tsx";
import { KeysPage } from "./pages/keys.tsx";
import { LogsPage } from "./pages/logs.tsx";
import { OverviewPage } from "./pages/overview.tsx";
import { SettingsPage } from "./pages/settings.tsx";
import { UsagePage } from "./pages/usage.tsx";

const PAGES = [
  { route: "overview", title: "Overview", page: OverviewPage },
  { route: "credentials", title: "Credentials", page: CredentialsPage },
  { route: "keys", title: "Client keys", page: KeysPage },
  { route: "usage", title: "Usage", page: UsagePage },
  { route: "logs", title: "Logs", page: LogsPage },
  { route: "settings", title: "Settings", page: SettingsPage },
];

function App() {
  const [signedIn, setSignedIn] = useState<boolean>();
  const [needsPassword, setNeedsPassword] = useState(true);
  const route = useHashRoute("overview");
  useEffect(() => {
    onUnauthorized(() => setSignedIn(false));
    api<{ via: string | null }>("/session").then((session) => {
      setNeedsPassword(session.via !== "open");
      setSignedIn(session.via !== null);
    }, (error: ApiError) => setSignedIn(error.status !== 401));
  }, []);
  if (signedIn === undefined) return <p class="boot">Loading…</p>;
  if (!signedIn) return <Login onSignedIn={() => setSignedIn(true)} />;
  const current = PAGES.find((page) => page.route === route) ?? PAGES[0]!;
  const Page = current.page;
  document.title = `${current.title} · jellycli admin`;
  return (
    <>
      <a class="skip" href="#main">Skip to content</a>
      <header>
        <span class="brand">jellycli</span>
        <nav aria-label="Admin pages">
          {PAGES.map((page) => <a key={page.route} href={`#/${page.route}`} aria-current={page.route === current.route ? "page" : undefined}>{page.title}</a>)}
        </nav>
        {needsPassword && <button type="button" class="link" onClick={async () => { await api("/logout", "POST").catch(() => {}); setSignedIn(false); }}>Log out</button>}
      </header>
      <main id="main" tabIndex={-1}><Page /></main>
    </>
  );
}

function Login(props: { onSignedIn: () => void }) {
  const [password, setPassword] = useState("");
  const [failure, setFailure] = useState<string>();
  const [busy, setBusy] = useState(false);
  return (
    <main class="login">
      <form onSubmit={async (event) => {
        event.preventDefault();
        setBusy(true);
        setFailure(undefined);
        try {
          await api("/login", "POST", { password });
          setPassword("");
          props.onSignedIn();
        } catch (caught) {
          setFailure((caught as Error).message);
        } finally {
          setBusy(false);
        }
      }}>
        <h1>jellycli admin</h1>
        <label for="password">Admin password</label>
        <input id="password" type="password" autocomplete="current-password" required autoFocus value={password} onInput={(event) => setPassword((event.target as HTMLInputElement).value)} />
        <button type="submit" class="primary" disabled={busy}>{busy ? "Signing in…" : "Sign in"}</button>
        {failure && <p class="error" role="alert">{failure}</p>}
      </form>
    </main>
  );
}

render(<App />, document.getElementById("app")!);
