/**
 * Key-name rules: a member whose name says it holds a secret (`password`, `api_key`,
 * `githubToken`) is redacted whatever its value looks like. Names are normalised first, so
 * that look-alikes cannot slip past: `ｐａｓｓｗｏｒｄ` (full width), `Pass\u200Bword`
 * (zero-width space) and `PASSWORD\u0000` all read as `password`.
 */

/**
 * A key as the rules compare it: Unicode NFKC (full-width and compatibility forms folded),
 * format and control characters removed (zero-width spaces and joiners, BOM, NUL, bidi
 * marks), lower case, and the separators `-`, `_`, `.` and white space removed.
 *
 * @example
 * normaliseKeyName("X-Api_Key") // "xapikey"
 */
export function normaliseKeyName(key: string): string {
  // Fast path: plain ASCII keys (nearly all of them) need no Unicode work.
  const ascii = PLAIN_ASCII.test(key);
  const folded = ascii ? key : key.normalize("NFKC").replace(INVISIBLE, "");
  return folded.toLowerCase().replace(SEPARATORS, "");
}

const PLAIN_ASCII = /^[\x20-\x7e]*$/;
// Cc (controls), Cf (format: zero-width, bidi, soft hyphen, BOM), and the variation selectors.
const INVISIBLE = /[\p{Cc}\p{Cf}\u{FE00}-\u{FE0F}\u{E0100}-\u{E01EF}]/gu;
const SEPARATORS = /[-_.\s]/g;

/**
 * Normalised key names whose values are secrets. A key matches when its normalised form is
 * one of these, or one of these followed by `s` (`passwords`, `api_keys`), or ends with one
 * of {@link SECRET_KEY_SUFFIXES}.
 */
export const SECRET_KEY_NAMES: readonly string[] = [
  "password",
  "passwd",
  "pwd",
  "passphrase",
  "passwordhash",
  "secret",
  "token",
  "apikey",
  "authorization",
  "auth",
  "proxyauthorization",
  "bearer",
  "jwt",
  "cookie",
  "setcookie",
  "session",
  "sessionid",
  "sessiontoken",
  "privatekey",
  "privkey",
  "clientsecret",
  "credential",
  "credentials",
  "secretaccesskey",
  "signingkey",
  "encryptionkey",
  "masterkey",
  "kmskey",
  "sshkey",
  "connectionstring",
  "databaseurl",
  "dburl",
  "mongouri",
  "mongourl",
  "mongodburi",
  "redisurl",
  "amqpurl",
  "sentrydsn",
  "dsn",
  "cvv",
  "cvv2",
  "cvc",
  "cvc2",
  "securitycode",
  "pin",
  "pincode",
  "otp",
  "totp",
  "mfacode",
];

/**
 * Endings that make a key secret too: `db_password`, `githubToken`, `x-api-key`,
 * `aws_secret_access_key`, `deploy_ssh_key`. Only singular endings: `max_tokens` and
 * `tokens_used` count tokens of a model and are not secrets.
 */
export const SECRET_KEY_SUFFIXES: readonly string[] = [
  "password",
  "passwd",
  "passphrase",
  "passwordhash",
  "secret",
  "token",
  "apikey",
  "privatekey",
  "privkey",
  "secretkey",
  "accesskey",
  "signingkey",
  "encryptionkey",
  "masterkey",
  "sshkey",
  "credentials",
  "connectionstring",
];

const NAMES: ReadonlySet<string> = new Set(SECRET_KEY_NAMES);

/**
 * The rule that makes a normalised key secret (`key:password`, `key:*token`), or undefined.
 * Takes the output of {@link normaliseKeyName}.
 */
export function secretKeyRuleOf(normalised: string): string | undefined {
  if (NAMES.has(normalised)) return `key:${normalised}`;
  if (normalised.endsWith("s") && NAMES.has(normalised.slice(0, -1))) {
    return `key:${normalised.slice(0, -1)}`;
  }
  for (const suffix of SECRET_KEY_SUFFIXES) {
    if (normalised.endsWith(suffix)) return `key:*${suffix}`;
  }
  return undefined;
}

/** The secret-key rule of a raw key name, or undefined; see {@link normaliseKeyName}. */
export function secretKeyRule(key: string): string | undefined {
  return secretKeyRuleOf(normaliseKeyName(key));
}
