package io.faultline.content;

import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberMatch;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.PhoneNumberUtil.Leniency;
import com.google.i18n.phonenumbers.Phonenumber.PhoneNumber;
import org.apache.commons.validator.routines.CreditCardValidator;
import org.apache.commons.validator.routines.EmailValidator;
import org.apache.commons.validator.routines.IBANValidator;
import org.apache.commons.validator.routines.InetAddressValidator;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Finds personal data and secrets in a text. Regular expressions only propose candidates; each is then validated
 * by a maintained library where a rule exists (commons-validator for e-mail, Luhn, IBAN mod 97 and IP addresses,
 * libphonenumber for phone numbers) or by the published rule (SSA area/group/serial for US SSNs). Stateless and
 * thread-safe; the text scanned is cut to {@link PiiConfig#maxScanChars()}.
 */
public final class PiiScanner {

    /** What a finding is. The order is the priority when two candidates overlap (a card beats a phone). */
    public enum Kind {
        SECRET, IBAN, CARD, US_SSN, EMAIL, IP, PHONE
    }

    /**
     * One validated finding: where it is, a normalized value for comparing the answer with the request (never
     * stored), and a masked rendering that is safe to store.
     */
    public record Finding(Kind kind, int start, int end, String normalized, String masked) {

        /** Masked on purpose: a finding must not leak its value through a log line. */
        @Override
        public String toString() {
            return kind + "[" + start + ".." + end + " " + masked + "]";
        }
    }

    private static final String LOCAL_CHARS =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._%+-";
    private static final String DOMAIN_CHARS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";
    private static final String SEPARATORS = " .-/()";
    // 12-19 digits, unbroken or in the 4-4-4-4(-3) and 4-6-5 groupings cards are printed in.
    static final Pattern CARD = Pattern.compile(
            "(?<![\\w.,+-])(?:\\d{12,19}|\\d{4}([ -])\\d{4}\\1\\d{4}\\1\\d{1,7}|\\d{4}([ -])\\d{6}\\2\\d{4,5})(?![\\w-]|[.,]\\d)");
    private static final Pattern IBAN = Pattern.compile(
            "(?i)(?<![\\w-])[A-Z]{2}\\d{2}(?:[A-Z0-9]{10,30}|(?: [A-Z0-9]{4}){2,7}(?: [A-Z0-9]{1,4})?)(?![\\w-])");
    static final Pattern SSN = Pattern.compile("(?<![\\w.-])(\\d{3})([- ])(\\d{2})\\2(\\d{4})(?![\\w-]|[.,]\\d)");
    static final Pattern IPV4 = Pattern.compile("(?<![\\w.-])(?:\\d{1,3}\\.){3}\\d{1,3}(?![\\w-]|\\.\\d)");
    private static final Pattern IPV6 = Pattern.compile(
            "(?i)(?<![\\w:.])(?:[0-9a-f]{0,4}:){2,7}[0-9a-f]{0,4}(?:%\\w+)?(?![\\w:])");
    // "v1.2.3.4", "version 10.0.0.1": dotted quads that are versions, not hosts.
    private static final Pattern VERSION_BEFORE = Pattern.compile("(?i)\\b(?:v|version|release|build|ver\\.?)\\s*$");
    // Digit runs with the separators phone numbers are written with; libphonenumber decides. The separator run is
    // possessive: a digit must follow it and no separator is a digit, so giving back separators never helps a match,
    // and backtracking into it multiplied the work of every failed start by the separator choices.
    private static final Pattern PHONE = Pattern.compile(
            "(?<![\\w+.,/-])(?:\\+|\\b00)?\\(?\\d(?:[ .\\-/()]{0,3}+\\d){6,16}(?!\\w|-\\d|[.,]\\d)");
    private static final Pattern PHONE_CUE = Pattern.compile(
            "(?i)\\b(?:phone|telephone|tel|mobile|cell|cellphone|fax|call|dial|text|sms|whatsapp|contact|office|home|work)\\b");
    private static final Pattern ISO_DATE = Pattern.compile("[12]\\d{3}[-/.][01]?\\d[-/.][0-3]?\\d.*|[0-3]?\\d[-/.][01]?\\d[-/.][12]\\d{3}.*");

    /** A provider key shape, looked for only when one of its literal prefixes occurs at all. */
    private record Prefixed(List<String> literals, Pattern pattern) {

        boolean in(String text) {
            for (String literal : literals) {
                if (text.contains(literal)) {
                    return true;
                }
            }
            return false;
        }
    }

    /** Provider key shapes: the prefix names the issuer, the length and alphabet are the issuer's. */
    private static final List<Prefixed> SECRET_PREFIXED = List.of(
            new Prefixed(List.of("sk-"), Pattern.compile("\\bsk-ant-(?:api|admin)\\d{2}-[A-Za-z0-9_-]{32,}")),
            new Prefixed(List.of("sk-"), Pattern.compile("\\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{20,}")),
            new Prefixed(List.of("_live_"), Pattern.compile("\\b(?:sk|rk)_live_[A-Za-z0-9]{20,}")),
            new Prefixed(List.of("AIza"), Pattern.compile("\\bAIza[0-9A-Za-z_-]{35}")),
            new Prefixed(List.of("AKIA", "ASIA"), Pattern.compile("\\b(?:AKIA|ASIA)[0-9A-Z]{16}\\b")),
            new Prefixed(List.of("ghp_", "gho_", "ghu_", "ghs_", "ghr_"),
                    Pattern.compile("\\bgh[pousr]_[A-Za-z0-9]{36,}")),
            new Prefixed(List.of("github_pat_"), Pattern.compile("\\bgithub_pat_[A-Za-z0-9_]{22,}")),
            new Prefixed(List.of("glpat-"), Pattern.compile("\\bglpat-[A-Za-z0-9_-]{20,}")),
            new Prefixed(List.of("xox"), Pattern.compile("\\bxox[abprs]-[A-Za-z0-9-]{10,}")),
            new Prefixed(List.of("hf_"), Pattern.compile("\\bhf_[A-Za-z0-9]{30,}")),
            new Prefixed(List.of("PRIVATE KEY-----"), Pattern.compile("-----BEGIN (?:[A-Z]+ )?PRIVATE KEY-----")));
    private static final Pattern SECRET_PREFIX_SHOWN = Pattern.compile(
            "^(?:sk-ant-|sk-proj-|sk-svcacct-|sk-admin-|sk-|sk_live_|rk_live_|AIza|AKIA|ASIA|gh[pousr]_|github_pat_|glpat-"
                    + "|xox[abprs]-|hf_|eyJ|-----BEGIN)");

    private static final EmailValidator EMAILS = EmailValidator.getInstance(false, false);
    private static final CreditCardValidator CARDS = CreditCardValidator.genericCreditCardValidator(12, 19);
    private static final IBANValidator IBANS = IBANValidator.getInstance();
    private static final InetAddressValidator IPS = InetAddressValidator.getInstance();
    private static final PhoneNumberUtil PHONES = PhoneNumberUtil.getInstance();

    private final Set<Kind> kinds;
    private final List<String> phoneRegions;
    private final Leniency leniency;
    private final Leniency contextLeniency;
    private final int phoneCueChars;
    private final long maxTries;
    private final int maxPhoneCandidates;
    private final int maxPhoneSearches;
    private final int secretMinLength;
    private final double secretMinEntropy;
    private final boolean privateIps;
    private final int maxChars;
    private final int maxCandidates;
    private final int maxFindings;

    public PiiScanner(PiiConfig config) {
        this.kinds = config.kinds().isEmpty() ? EnumSet.noneOf(Kind.class) : EnumSet.copyOf(config.kinds());
        this.phoneRegions = config.phoneRegions().stream().map(r -> r.trim().toUpperCase(Locale.ROOT)).toList();
        this.leniency = config.phoneLeniency();
        this.contextLeniency = config.phoneContextLeniency();
        this.phoneCueChars = config.phoneCueChars();
        this.maxTries = config.phoneMaxTries();
        this.maxPhoneCandidates = config.phoneMaxCandidates();
        this.maxPhoneSearches = config.phoneMaxSearches();
        this.secretMinLength = config.secretMinLength();
        this.secretMinEntropy = config.secretMinEntropy();
        this.privateIps = config.privateIps();
        this.maxChars = config.maxScanChars();
        this.maxCandidates = config.maxCandidates();
        this.maxFindings = config.maxFindings();
    }

    /**
     * The outcome of one scan: the findings, and whether the scan stopped early because the text held more
     * candidates or findings than the per-text budget ({@link PiiConfig#maxCandidates()}, {@link
     * PiiConfig#maxFindings()}) allows.
     */
    public record Scan(List<Finding> findings, boolean exhausted) {
    }

    /** What a scan may still spend: validator calls, findings, phone candidates and libphonenumber searches. */
    private static final class Budget {
        int candidates;
        int findings;
        int phoneCandidates;
        int phoneSearches;
        boolean exhausted;
        /** Parse verdicts already reached in this text, by number, region and leniency: digit tables repeat. */
        final Map<String, Boolean> parsed = new HashMap<>();
        /** Search outcomes by window text, candidate offsets in it, region and leniency: an empty one is absent. */
        final Map<String, Optional<Finding>> searched = new HashMap<>();
        /** One matcher per pattern over the scanned text, moved from cluster to cluster: a text has hundreds. */
        final Map<Pattern, Matcher> matchers = new HashMap<>();
        /** Whether phone numbers are looked for ({@link #scanWithoutPhones} says no). */
        boolean phones = true;
        /** The start positions of the current cluster ({@link Starts}), grown to the longest cluster. */
        int[] starts = new int[64];

        Budget(int candidates, int findings, int phoneCandidates, int phoneSearches) {
            this.candidates = candidates;
            this.findings = findings;
            this.phoneCandidates = phoneCandidates;
            this.phoneSearches = phoneSearches;
        }

        /** Takes one validation; false (and exhausted) when none is left. */
        boolean validate() {
            if (candidates <= 0 || findings <= 0) {
                exhausted = true;
                return false;
            }
            candidates--;
            return true;
        }

        void found(List<Finding> out, Finding finding) {
            out.add(finding);
            findings--;
        }

        boolean spent() {
            if (candidates <= 0 || findings <= 0) {
                exhausted = true;
                return true;
            }
            return false;
        }
    }

    /** Whether {@link #scan} would cut this text. */
    public boolean cuts(String text) {
        return text != null && text.length() > maxChars;
    }

    /** The validated findings of the text, in text order, no two overlapping. */
    public List<Finding> scan(String text) {
        return inspect(text).findings();
    }

    /** {@link #scan}, saying also whether the per-text budget cut the scan short. */
    public Scan inspect(String text) {
        if (text == null || text.isEmpty() || kinds.isEmpty()) {
            return new Scan(List.of(), false);
        }
        Budget budget = new Budget(maxCandidates, maxFindings, maxPhoneCandidates, maxPhoneSearches);
        return new Scan(resolveOverlaps(candidates(text, budget)), budget.exhausted);
    }

    /**
     * The findings of every kind but {@link Kind#PHONE} that {@link #scan} reports for the text, found without
     * validating a single phone number (libphonenumber is most of the cost of a scan of digit-heavy text); or
     * {@code null} when the phone numbers of a full scan could have changed them, which takes a text whose findings
     * come within {@link PiiConfig#phoneMaxCandidates()} of {@link PiiConfig#maxFindings()}: then ask {@link #scan}.
     * Below that a phone number draws on no budget the other kinds use, and it ranks last among overlapping
     * findings, so the other findings are exactly those of the full scan.
     */
    public List<Finding> scanWithoutPhones(String text) {
        if (text == null || text.isEmpty() || kinds.isEmpty()) {
            return List.of();
        }
        Budget budget = new Budget(maxCandidates, maxFindings, maxPhoneCandidates, maxPhoneSearches);
        budget.phones = false;
        List<Finding> candidates = candidates(text, budget);
        return budget.findings > maxPhoneCandidates ? resolveOverlaps(candidates) : null;
    }

    /** The validated findings of the scanned part of the text, overlaps not yet resolved. */
    private List<Finding> candidates(String text, Budget budget) {
        String scanned = halfWidth(text.length() > maxChars ? text.substring(0, maxChars) : text);
        List<Finding> candidates = new ArrayList<>();
        if (kinds.contains(Kind.SECRET)) {
            secrets(scanned, candidates, budget);
        }
        if (kinds.contains(Kind.EMAIL) && scanned.indexOf('@') >= 0) {
            emails(scanned, candidates, budget);
        }
        if (kinds.contains(Kind.IP) && scanned.indexOf(':') >= 0) {
            ipv6(scanned, candidates, budget);
        }
        numbers(scanned, candidates, budget);
        return candidates;
    }

    /**
     * The text with full-width forms (U+FF01-U+FF5E, as Japanese and Chinese input methods write digits, letters, '@'
     * and '-') and the ideographic space read as their ASCII counterparts. One character for one, so a finding's
     * offsets are those of the text; the same instance when there are none.
     */
    static String halfWidth(String text) {
        char[] out = null;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= '\uFF01' && c <= '\uFF5E' || c == '\u3000') {
                if (out == null) {
                    out = text.toCharArray();
                }
                out[i] = c == '\u3000' ? ' ' : (char) (c - 0xFEE0);
            }
        }
        return out == null ? text : new String(out);
    }

    /**
     * One pass over the text for clusters of digits (with the separators numbers are written with); only there do
     * the numeric patterns run. Ordinary prose has few such clusters, so the regular expressions never walk the
     * whole text, which keeps a scan of a 2 KB answer in the tens of microseconds.
     */
    private void numbers(String text, List<Finding> out, Budget budget) {
        int n = text.length();
        int i = 0;
        while (i < n && !budget.spent()) {
            if (!isDigit(text.charAt(i))) {
                i++;
                continue;
            }
            int start = i;
            int end = i;
            int digits = 0;
            boolean dots = false;
            int j = i;
            while (j < n) {
                if (isDigit(text.charAt(j))) {
                    digits++;
                    end = ++j;
                    continue;
                }
                int k = j;
                while (k < n && k - j < 3 && SEPARATORS.indexOf(text.charAt(k)) >= 0) {
                    dots |= text.charAt(k) == '.';
                    k++;
                }
                if (k == j || k == n || !isDigit(text.charAt(k))) {
                    break;
                }
                j = k;
            }
            cluster(text, start, end, digits, dots, out, budget);
            i = end;
        }
    }

    private void cluster(String text, int start, int end, int digits, boolean dots, List<Finding> out,
            Budget budget) {
        int from = Math.max(0, start - 2);
        if (kinds.contains(Kind.IBAN) && start >= 2 && Character.isLetter(text.charAt(start - 2))
                && Character.isLetter(text.charAt(start - 1))) {
            ibans(region(IBAN, text, start - 2, Math.min(text.length(), start + 48), budget), out, budget);
        }
        Starts starts = null;
        if (kinds.contains(Kind.US_SSN) && digits >= 9) {
            starts = Starts.of(text, from, end, budget);
            ssns(matches(SSN, PiiScanner::maySsn, text, starts, end, budget), out, budget);
        }
        if (kinds.contains(Kind.CARD) && digits >= 12) {
            starts = starts == null ? Starts.of(text, from, end, budget) : starts;
            cards(matches(CARD, PiiScanner::mayCard, text, starts, end, budget), out, budget);
        }
        if (kinds.contains(Kind.IP) && dots && digits >= 4) {
            starts = starts == null ? Starts.of(text, from, end, budget) : starts;
            ipv4(text, matches(IPV4, PiiScanner::mayIpv4, text, starts, end, budget), out, budget);
        }
        // Once the phone candidates of the text are spent (the count went below zero, the scan is marked exhausted),
        // no later cluster can yield a phone: skip its pattern.
        if (kinds.contains(Kind.PHONE) && budget.phones && digits >= 7 && budget.phoneCandidates >= 0) {
            starts = starts == null ? Starts.of(text, from, end, budget) : starts;
            phones(text, matches(PHONE, (t, p, to) -> true, text, starts, end, budget), out, budget);
        }
    }

    /**
     * A test of the characters at a position that every match of a pattern starting there passes: cheap, exact as
     * a filter (it never turns away a position where the pattern matches), and it spares the regex engine the
     * positions of a long cluster where the pattern cannot begin.
     */
    @FunctionalInterface
    private interface MayStart {
        boolean at(String text, int p, int to);
    }

    /** {@code \d{3}([- ])\d{2}\1\d{4}}: 11 characters, the separators at 3 and 6. */
    static boolean maySsn(String text, int p, int to) {
        if (p + 11 > to) {
            return false;
        }
        char separator = text.charAt(p + 3);
        return (separator == '-' || separator == ' ') && text.charAt(p + 6) == separator
                && digits(text, p, 3) && digits(text, p + 4, 2) && digits(text, p + 7, 4);
    }

    /** Every card alternative is 12 characters or more and begins with four digits and then a digit, space or dash. */
    static boolean mayCard(String text, int p, int to) {
        if (p + 12 > to || !digits(text, p, 4)) {
            return false;
        }
        char next = text.charAt(p + 4);
        return isDigit(next) || next == ' ' || next == '-';
    }

    /** {@code (?:\d{1,3}\.){3}\d{1,3}}: at least 7 characters, a dot after the first one to three digits. */
    static boolean mayIpv4(String text, int p, int to) {
        if (p + 7 > to || !isDigit(text.charAt(p))) {
            return false;
        }
        for (int i = p + 1; i <= p + 3; i++) {
            char c = text.charAt(i);
            if (c == '.') {
                return true;
            }
            if (!isDigit(c)) {
                return false;
            }
        }
        return false;
    }

    private static boolean digits(String text, int from, int count) {
        for (int i = from; i < from + count; i++) {
            if (!isDigit(text.charAt(i))) {
                return false;
            }
        }
        return true;
    }

    /** A matcher confined to a cluster that still sees the characters around it for its look-arounds. */
    private static Matcher region(Pattern pattern, String text, int from, int to, Budget budget) {
        return budget.matchers.computeIfAbsent(pattern,
                        p -> p.matcher(text).useTransparentBounds(true).useAnchoringBounds(false))
                .region(from, to);
    }

    private static ClusterMatches matches(Pattern pattern, MayStart may, String text, Starts starts, int to,
            Budget budget) {
        return new ClusterMatches(region(pattern, text, starts.from, to, budget), may, text, starts, to);
    }

    /**
     * The positions of a cluster where a card, SSN, IPv4 or phone number can begin: a digit, {@code +} or {@code (}
     * that follows no word character, {@code .} or {@code -} (every one of those patterns starts with such a
     * look-behind). Found in one pass and shared by the four patterns; the array is the scan's, reused from cluster
     * to cluster.
     */
    private static final class Starts {
        final int from;
        final int[] at;
        final int count;

        private Starts(int from, int[] at, int count) {
            this.from = from;
            this.at = at;
            this.count = count;
        }

        static Starts of(String text, int from, int to, Budget budget) {
            if (budget.starts.length < to - from) {
                budget.starts = new int[Math.max(to - from, 2 * budget.starts.length)];
            }
            int[] at = budget.starts;
            int count = 0;
            for (int p = from; p < to; p++) {
                char c = text.charAt(p);
                if (!isDigit(c) && c != '+' && c != '(') {
                    continue;
                }
                if (p > 0) {
                    char before = text.charAt(p - 1);
                    if (wordChar(before) || before == '.' || before == '-') {
                        continue;
                    }
                }
                at[count++] = p;
            }
            return new Starts(from, at, count);
        }
    }

    /**
     * The matches of a card, SSN, IPv4 or phone pattern within one cluster, tried only at the {@link Starts} of the
     * cluster that pass the pattern's {@link MayStart} test. {@code find} would try every position of the cluster;
     * in a long table of digits most follow a digit, so this tries a few per number instead of one per character,
     * and the character test turns away most of those before the regex engine is asked. Matches are the ones
     * {@code find} returns: the next one is looked for from the end of the last.
     */
    private static final class ClusterMatches {
        private final Matcher m;
        private final MayStart may;
        private final String text;
        private final Starts starts;
        private final int to;
        private int next;
        private int at;

        ClusterMatches(Matcher m, MayStart may, String text, Starts starts, int to) {
            this.m = m;
            this.may = may;
            this.text = text;
            this.starts = starts;
            this.to = to;
            this.at = starts.from;
        }

        boolean find() {
            while (next < starts.count) {
                int p = starts.at[next++];
                if (p < at || !may.at(text, p, to)) {
                    continue;
                }
                m.region(p, to);
                if (m.lookingAt()) {
                    at = Math.max(m.end(), p + 1);
                    return true;
                }
            }
            return false;
        }

        int start() {
            return m.start();
        }

        int end() {
            return m.end();
        }

        String group() {
            return m.group();
        }

        String group(int group) {
            return m.group(group);
        }
    }

    private void secrets(String text, List<Finding> out, Budget budget) {
        for (Prefixed prefixed : SECRET_PREFIXED) {
            if (prefixed.in(text)) {
                Matcher m = prefixed.pattern().matcher(text);
                while (m.find() && budget.validate()) {
                    budget.found(out, secret(m.group(), m.start(), m.end()));
                }
            }
        }
        jwts(text, out, budget);
        // Unprefixed tokens: maximal runs of token characters; a run with '/' or '+' is a path or an expression.
        int n = text.length();
        int i = 0;
        while (i < n) {
            char c = text.charAt(i);
            if (!tokenChar(c) && c != '/' && c != '+') {
                i++;
                continue;
            }
            int start = i;
            boolean plain = true;
            while (i < n && (tokenChar(text.charAt(i)) || text.charAt(i) == '/' || text.charAt(i) == '+')) {
                plain &= tokenChar(text.charAt(i));
                i++;
            }
            int length = i - start;
            if (plain && length >= secretMinLength && length <= 256) {
                String token = text.substring(start, i);
                if (mixed(token) && entropy(token) >= secretMinEntropy) {
                    if (!budget.validate()) {
                        return;
                    }
                    budget.found(out, secret(token, start, i));
                }
            }
        }
    }

    /**
     * JSON Web Tokens, {@code \\beyJ[A-Za-z0-9_-]{10,}\\.eyJ[A-Za-z0-9_-]{10,}\\.[A-Za-z0-9_-]{10,}} as a scan: that
     * pattern read the whole run of token characters from every "eyJ" in it and then failed on the missing dot,
     * quadratic in a run of "-eyJ". Every start inside one run ends where the run ends, so only the first start of a
     * run is tried.
     */
    private static void jwts(String text, List<Finding> out, Budget budget) {
        int n = text.length();
        int at = text.indexOf("eyJ");
        while (at >= 0) {
            if (at > 0 && wordChar(text.charAt(at - 1))) {
                at = text.indexOf("eyJ", at + 1);
                continue;
            }
            int header = jwtPart(text, at);
            int end = -1;
            if (header - at >= 13 && header < n && text.charAt(header) == '.' && text.startsWith("eyJ", header + 1)) {
                int claims = jwtPart(text, header + 1);
                if (claims - header - 1 >= 13 && claims < n && text.charAt(claims) == '.') {
                    int signature = jwtPart(text, claims + 1);
                    if (signature - claims - 1 >= 10) {
                        end = signature;
                    }
                }
            }
            if (end > 0) {
                if (!budget.validate()) {
                    return;
                }
                budget.found(out, secret(text.substring(at, end), at, end));
                at = text.indexOf("eyJ", end);
            } else {
                at = text.indexOf("eyJ", header);
            }
        }
    }

    /** The end of the run of {@code [A-Za-z0-9_-]} that starts at {@code from}. */
    private static int jwtPart(String text, int from) {
        int i = from;
        while (i < text.length() && (wordChar(text.charAt(i)) || text.charAt(i) == '-')) {
            i++;
        }
        return i;
    }

    private static boolean wordChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_';
    }

    private static boolean tokenChar(char c) {
        return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-'
                || c == '=';
    }

    private static boolean isDigit(char c) {
        return c >= '0' && c <= '9';
    }

    private static Finding secret(String value, int start, int end) {
        Matcher prefix = SECRET_PREFIX_SHOWN.matcher(value);
        String shown = prefix.find() ? prefix.group() : "";
        return new Finding(Kind.SECRET, start, end, value, shown + "… (" + value.length() + " chars)");
    }

    /** An IBAN whose country code is the two letters just before the cluster; one starting later has its own. */
    private static void ibans(Matcher m, List<Finding> out, Budget budget) {
        if (m.lookingAt() && budget.validate()) {
            String iban = m.group().replace(" ", "").toUpperCase(Locale.ROOT);
            int lastSpace = m.group().lastIndexOf(' ');
            if (!IBANS.isValid(iban) && lastSpace > 0) {
                // The last group may be the next word ("… 6119 to"): an IBAN is also valid without it or not at all.
                iban = m.group().substring(0, lastSpace).replace(" ", "").toUpperCase(Locale.ROOT);
            }
            if (IBANS.isValid(iban)) {
                int end = iban.length() == m.group().replace(" ", "").length() ? m.end() : m.start() + lastSpace;
                budget.found(out, new Finding(Kind.IBAN, m.start(), end, iban,
                        iban.substring(0, 2) + "•• … " + iban.substring(iban.length() - 4)));
            }
        }
    }

    private static void cards(ClusterMatches m, List<Finding> out, Budget budget) {
        while (m.find() && budget.validate()) {
            String digits = digitsOf(m.group());
            if (issuerLike(digits) && CARDS.isValid(digits)) {
                budget.found(out, new Finding(Kind.CARD, m.start(), m.end(), digits,
                        "•••• " + digits.substring(digits.length() - 4)));
            }
        }
    }

    /**
     * ISO/IEC 7812 industry identifiers of payment cards: 2-6 lead (Mastercard 2-series, Amex/Diners/JCB, Visa,
     * Mastercard/Maestro, Discover/Maestro/UnionPay), plus the 15-digit legacy JCB ranges 1800 and 2131. Excludes the
     * 1-led runs that epoch-millisecond timestamps and ids are.
     */
    private static boolean issuerLike(String digits) {
        char lead = digits.charAt(0);
        return (lead >= '2' && lead <= '6') || (digits.length() == 15 && digits.startsWith("1800"));
    }

    private static void ssns(ClusterMatches m, List<Finding> out, Budget budget) {
        while (m.find() && budget.validate()) {
            int area = Integer.parseInt(m.group(1));
            int group = Integer.parseInt(m.group(3));
            int serial = Integer.parseInt(m.group(4));
            // SSA rules: area 000, 666 and 900-999 are never issued, nor group 00 or serial 0000; 078-05-1120 and
            // 219-09-9999 were published in advertising and voided.
            boolean issued = area != 0 && area != 666 && area < 900 && group != 0 && serial != 0;
            String ssn = m.group(1) + m.group(3) + m.group(4);
            if (issued && !ssn.equals("078051120") && !ssn.equals("219099999")) {
                budget.found(out, new Finding(Kind.US_SSN, m.start(), m.end(), ssn, "***-**-" + m.group(4)));
            }
        }
    }

    /** Around each '@': the longest local part and domain the characters allow, then the validator decides. */
    private static void emails(String text, List<Finding> out, Budget budget) {
        int at = text.indexOf('@');
        while (at >= 0 && !budget.spent()) {
            int start = at;
            while (start > 0 && at - start < 64 && LOCAL_CHARS.indexOf(text.charAt(start - 1)) >= 0) {
                start--;
            }
            while (start < at && text.charAt(start) == '.') {
                start++;
            }
            int end = at + 1;
            while (end < text.length() && end - at < 255 && DOMAIN_CHARS.indexOf(text.charAt(end)) >= 0) {
                end++;
            }
            while (end > at + 1 && (text.charAt(end - 1) == '.' || text.charAt(end - 1) == '-')) {
                end--;
            }
            // A domain needs a dot with something after it; without one the validator need not be asked.
            int dot = end - 2;
            while (dot > at + 1 && text.charAt(dot) != '.') {
                dot--; // within the domain only: a search of the whole text per '@' was quadratic
            }
            if (start < at && end > at + 1 && dot > at + 1 && budget.validate()) {
                String email = text.substring(start, end);
                if (EMAILS.isValid(email)) {
                    budget.found(out, new Finding(Kind.EMAIL, start, end, email.toLowerCase(Locale.ROOT), maskEmail(email)));
                }
            }
            at = text.indexOf('@', at + 1);
        }
    }

    private static String maskEmail(String email) {
        int at = email.indexOf('@');
        String domain = email.substring(at + 1);
        int dot = domain.lastIndexOf('.');
        return email.charAt(0) + "***@" + domain.charAt(0) + "***" + domain.substring(dot);
    }

    private void ipv4(String text, ClusterMatches m, List<Finding> out, Budget budget) {
        while (m.find() && budget.validate()) {
            String ip = m.group();
            if (IPS.isValidInet4Address(ip) && !versionLike(text, m.start()) && (privateIps || !privateV4(ip))) {
                budget.found(out, new Finding(Kind.IP, m.start(), m.end(), ip, ip.substring(0, ip.indexOf('.')) + ".x.x.x"));
            }
        }
    }

    private void ipv6(String text, List<Finding> out, Budget budget) {
        if (!text.contains("::") && text.chars().filter(c -> c == ':').count() < 7) {
            return; // an IPv6 address has "::" or seven colons
        }
        Matcher m = IPV6.matcher(text);
        while (m.find() && !budget.spent()) {
            String ip = m.group();
            if (ip.indexOf("::") < 0 && ip.chars().filter(c -> c == ':').count() < 7) {
                continue; // "12:30:45", MAC-like and other colon runs that are not a full address
            }
            if (budget.validate() && IPS.isValidInet6Address(ip) && (privateIps || !privateV6(ip))) {
                String lower = ip.toLowerCase(Locale.ROOT);
                budget.found(out, new Finding(Kind.IP, m.start(), m.end(), lower,
                        lower.substring(0, Math.max(1, lower.indexOf(':'))) + ":…"));
            }
        }
    }

    private static boolean versionLike(String text, int start) {
        return VERSION_BEFORE.matcher(text.substring(Math.max(0, start - 12), start)).find();
    }

    private static boolean privateV4(String ip) {
        String[] o = ip.split("\\.");
        int a = Integer.parseInt(o[0]);
        int b = Integer.parseInt(o[1]);
        return a == 10 || a == 127 || a == 0 || (a == 169 && b == 254) || (a == 172 && b >= 16 && b <= 31)
                || (a == 192 && b == 168) || a >= 224;
    }

    private static boolean privateV6(String ip) {
        String lower = ip.toLowerCase(Locale.ROOT);
        return lower.equals("::") || lower.equals("::1") || lower.startsWith("fe80") || lower.startsWith("fc")
                || lower.startsWith("fd");
    }

    /**
     * Phone candidates, each validated by libphonenumber's {@code findNumbers} in the configured regions. A search
     * costs 0.1-1 ms (its own pattern over the window, then a parse, formatting and grouping checks per match), so
     * a region is searched only when the candidate's digits already parse there as a possible (leniency {@code
     * POSSIBLE}) or valid (any stricter leniency) number, which every match of the search needs; a parse costs a
     * few microseconds. Searches per text are bounded by {@link PiiConfig#phoneMaxSearches()}, candidates by
     * {@link PiiConfig#phoneMaxCandidates()}; a scan cut by either says so ({@link Scan#exhausted()}).
     */
    private void phones(String text, ClusterMatches m, List<Finding> out, Budget budget) {
        while (m.find() && !budget.spent()) {
            String candidate = m.group();
            if (covered(out, m.start(), m.end())) {
                continue; // already a card, an IBAN or an SSN, which outrank a phone number
            }
            int digits = countDigits(candidate);
            if (digits < 7 || digits > 15 || ISO_DATE.matcher(candidate).matches()) {
                continue;
            }
            boolean cue = phoneCue(text, m.start(), m.end());
            boolean international = candidate.startsWith("+") || candidate.startsWith("00");
            if (!cue && !international && digits == candidate.length()) {
                continue; // a bare unbroken digit run is an id, an order or an amount far more often than a phone
            }
            if (budget.phoneCandidates-- <= 0) {
                budget.exhausted = true;
                return; // each candidate costs a libphonenumber parse per region: bounded per text
            }
            // Punctuation changes neither the parsed number nor its validity, and a parse without it is cheaper.
            String number = (candidate.startsWith("+") ? "+" : "") + digitsOf(candidate);
            // libphonenumber reads a little context too: it rejects time stamps by what follows the number.
            int from = Math.max(0, m.start() - 8);
            int to = Math.min(text.length(), m.end() + 8);
            String window = null;
            Leniency applied = cue ? contextLeniency : leniency;
            Finding found = null;
            for (String region : phoneRegions) {
                if (budget.parsed.computeIfAbsent(number + ' ' + region + ' ' + applied,
                        k -> parsesIn(number, region, applied))) {
                    window = window == null ? text.substring(from, to) : window;
                    // The same window (a repeated row of a table) is searched once; offsets are window-relative.
                    String key = window + '\u0000' + (m.start() - from) + ' ' + (m.end() - from) + ' ' + region
                            + ' ' + applied;
                    Optional<Finding> known = budget.searched.get(key);
                    if (known == null) {
                        if (budget.phoneSearches-- <= 0) {
                            budget.exhausted = true;
                            return;
                        }
                        known = Optional.ofNullable(search(window, 0, m.start() - from, m.end() - from, region,
                                applied));
                        budget.searched.put(key, known);
                    }
                    found = known.map(f -> new Finding(Kind.PHONE, from + f.start(), from + f.end(), f.normalized(),
                            f.masked())).orElse(null);
                }
                if (found != null || international) {
                    break; // an international number is read the same in every region
                }
            }
            if (found != null) {
                budget.found(out, found);
            }
        }
    }

    /** The first number libphonenumber finds in the window that lies within the candidate (±1 character). */
    private Finding search(String window, int from, int start, int end, String region, Leniency applied) {
        for (PhoneNumberMatch match : PHONES.findNumbers(window, region, applied, maxTries)) {
            int matchStart = from + match.start();
            int matchEnd = from + match.end();
            if (matchStart >= start - 1 && matchEnd <= end + 1 && countDigits(match.rawString()) >= 7) {
                String national = PHONES.getNationalSignificantNumber(match.number());
                return new Finding(Kind.PHONE, matchStart, matchEnd, national,
                        "•••" + national.substring(Math.max(0, national.length() - 2)));
            }
        }
        return null;
    }

    /**
     * Whether the digits parse in the region as a number the leniency could accept: possible for {@code POSSIBLE},
     * valid for {@code VALID} and the grouping leniencies (which check validity first). A necessary condition of a
     * match of {@code findNumbers} over the whole candidate, at a fraction of its cost.
     */
    private static boolean parsesIn(String number, String region, Leniency applied) {
        try {
            PhoneNumber parsed = PHONES.parse(number, region);
            return applied == Leniency.POSSIBLE ? PHONES.isPossibleNumber(parsed) : PHONES.isValidNumber(parsed);
        } catch (NumberParseException e) {
            return false;
        }
    }

    private static boolean covered(List<Finding> found, int start, int end) {
        for (Finding f : found) {
            if (f.start() <= start && end <= f.end()) {
                return true;
            }
        }
        return false;
    }

    /** Whether a word that announces a phone number stands just before the number or right after it. */
    private boolean phoneCue(String text, int start, int end) {
        String before = text.substring(Math.max(0, start - phoneCueChars), start);
        String after = text.substring(end, Math.min(text.length(), end + 12));
        return PHONE_CUE.matcher(before).find() || PHONE_CUE.matcher(after).find();
    }

    private static List<Finding> resolveOverlaps(List<Finding> candidates) {
        if (candidates.size() < 2) {
            return candidates;
        }
        candidates.sort(Comparator.comparing(Finding::kind).thenComparingInt(Finding::start));
        List<Finding> kept = new ArrayList<>(candidates.size());
        for (Finding candidate : candidates) {
            boolean overlaps = false;
            for (Finding k : kept) {
                if (candidate.start() < k.end() && k.start() < candidate.end()) {
                    overlaps = true;
                    break;
                }
            }
            if (!overlaps) {
                kept.add(candidate);
            }
        }
        kept.sort(Comparator.comparingInt(Finding::start));
        return kept;
    }

    /** Upper case, lower case and digits all present: random tokens have them, words and hex hashes do not. */
    private static boolean mixed(String token) {
        boolean upper = false;
        boolean lower = false;
        boolean digit = false;
        for (int i = 0; i < token.length(); i++) {
            char c = token.charAt(i);
            upper |= c >= 'A' && c <= 'Z';
            lower |= c >= 'a' && c <= 'z';
            digit |= c >= '0' && c <= '9';
        }
        return upper && lower && digit;
    }

    /** Shannon entropy of the token's characters, in bits per character. */
    static double entropy(String token) {
        int[] counts = new int[128];
        for (int i = 0; i < token.length(); i++) {
            counts[token.charAt(i) & 127]++;
        }
        double bits = 0;
        double n = token.length();
        for (int count : counts) {
            if (count > 0) {
                double p = count / n;
                bits -= p * Math.log(p) / Math.log(2);
            }
        }
        return bits;
    }

    private static int countDigits(CharSequence text) {
        int count = 0;
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= '0' && c <= '9') {
                count++;
            }
        }
        return count;
    }

    private static String digitsOf(String text) {
        StringBuilder out = new StringBuilder(text.length());
        for (int i = 0; i < text.length(); i++) {
            char c = text.charAt(i);
            if (c >= '0' && c <= '9') {
                out.append(c);
            }
        }
        return out.toString();
    }
}
