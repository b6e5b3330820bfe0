package io.faultline.content;

/**
 * The features the learned injection classifier reads: hashed word unigrams and bigrams and hashed character 3-, 4-
 * and 5-grams of a normalised text, and hashed runs of markup and delimiter characters. One pass over the text, no
 * allocation: each feature goes to a {@link Sink} with the position it ends at and the segment (sentence or line) it
 * belongs to, so that the model can score overlapping windows and single segments without a second pass. The trainer
 * (test scope) uses this same class, so training and serving cannot disagree.
 *
 * <p>Normalisation, all of it per character: lower case; common Cyrillic letters that look Latin ("іgnоrе") are folded
 * onto the Latin ones; digits and the signs {@code @ $} that stand between or next to letters ("1gn0r3", "p@ss") are
 * read as the letters they imitate; every other run of characters that are not letters or digits counts as one space
 * for the words and n-grams, and is itself a {@link #MARKUP} feature when it holds anything but spaces (so
 * {@code <!--}, {@code ![}, {@code ](}, {@code <|}, {@code ###} and {@code ***} are features, while a markdown image's
 * or an HTML comment's words are read like any other words).
 */
public final class InjectionFeatures {

    /** Characters per block; a window is two adjacent blocks, so windows are 512 characters with a 256 stride. */
    public static final int BLOCK = 256;
    /** A segment ends at a line break or a sentence end once it has at least this many characters. */
    public static final int MIN_SEGMENT = 32;
    /** A segment that reaches this many characters ends at the next space (windows cover longer stretches). */
    public static final int MAX_SEGMENT = 2 * BLOCK;

    /** Feature families, encoded in the low bits of the unmasked hash so that evidence can name a feature's kind. */
    public static final int WORD = 0;
    public static final int BIGRAM = 1;
    public static final int CHAR3 = 2;
    public static final int CHAR4 = 3;
    public static final int CHAR5 = 4;
    public static final int MARKUP = 5;
    /** The first word of a sentence or line: an imperative there ("Write", "Translate") is how a planted ask opens. */
    public static final int OPENER = 6;
    private static final String[] FAMILY = {"word", "bigram", "char3", "char4", "char5", "markup", "opener"};
    private static final int MAX_MARKUP = 6;

    /**
     * Receives one feature occurrence: the index of the character it ends at (within the text, so its block is
     * {@code at / BLOCK}), its segment (0, 1, ... in text order), its family and its hash (non-negative; the model
     * masks it).
     */
    @FunctionalInterface
    public interface Sink {
        void accept(int at, int segment, int family, int hash);
    }

    private InjectionFeatures() {
    }

    public static String familyName(int family) {
        return FAMILY[family];
    }

    /** Feeds every feature of {@code text} to the sink, in text order. Linear in the text's length. */
    public static void extract(CharSequence text, Sink sink) {
        int n = text.length();
        // the last four normalised characters, newest in the low 16 bits
        long recent = 0;
        int seen = 0;
        int word = FNV;
        int wordLength = 0;
        int previousWord = 0;
        boolean havePrevious = false;
        boolean lastSpace = true;
        int markup = FNV;
        int markupLength = 0;
        int segment = 0;
        int segmentChars = 0;
        char previousRaw = ' ';
        boolean opening = true;
        char next = n > 0 ? text.charAt(0) : ' ';
        for (int i = 0; i <= n; i++) {
            char raw = next;
            next = i + 1 < n ? text.charAt(i + 1) : ' ';
            int at = i < n ? i : n - 1;
            char c = fold(raw, previousRaw, next);
            int kind = kind(c);
            boolean alnum = (kind & ALNUM) != 0;
            boolean rawSpace = (kind(raw) & SPACE) != 0;
            if (!alnum && (kind & SPACE) == 0 && i < n) {
                if (markupLength < MAX_MARKUP) {
                    markup = (markup ^ c) * PRIME;
                }
                markupLength++;
            } else if (markupLength > 0) {
                sink.accept(at, segment, MARKUP, mix(markup, MARKUP));
                markup = FNV;
                markupLength = 0;
            }
            boolean emitChars = true;
            if (alnum) {
                c = c < 0x80 ? (char) (c >= 'A' && c <= 'Z' ? c | 0x20 : c) : Character.toLowerCase(c);
                word = (word ^ c) * PRIME;
                wordLength++;
            } else {
                if (wordLength > 0) {
                    int w = mix(word, WORD);
                    sink.accept(at, segment, WORD, w);
                    if (opening) {
                        sink.accept(at, segment, OPENER, mix(word, OPENER));
                        opening = false;
                    }
                    if (havePrevious) {
                        sink.accept(at, segment, BIGRAM, mix(previousWord * 31 + w, BIGRAM));
                    }
                    previousWord = w;
                    havePrevious = true;
                }
                word = FNV;
                wordLength = 0;
                if (lastSpace || i == n) {
                    emitChars = false; // a run of separators is one space
                }
                c = ' ';
            }
            if (emitChars) {
                lastSpace = c == ' ';
                seen++;
                // char n-grams ending here: c with the 2, 3 or 4 characters before it
                int h = (int) ((c * 0x9E3779B1L) >>> 7);
                for (int k = 1; k <= 4 && k < seen; k++) {
                    char before = (char) (recent >>> (16 * (k - 1)));
                    h = (h ^ before) * PRIME;
                    if (k >= 2) {
                        int family = k == 2 ? CHAR3 : k == 3 ? CHAR4 : CHAR5;
                        sink.accept(at, segment, family, mix(h, family));
                    }
                }
                recent = (recent << 16) | c;
            }
            segmentChars++;
            boolean boundary = raw == '\n' || (rawSpace
                    && (previousRaw == '.' || previousRaw == '!' || previousRaw == '?' || previousRaw == '\n'
                    || segmentChars >= MAX_SEGMENT));
            if (raw == '\n' || (rawSpace && (previousRaw == '.' || previousRaw == '!'
                    || previousRaw == '?' || previousRaw == ':'))) {
                opening = true;
            }
            if (boundary && segmentChars >= MIN_SEGMENT && wordLength == 0 && markupLength == 0) {
                segment++;
                segmentChars = 0;
            }
            previousRaw = raw;
        }
    }

    private static final int ALNUM = 1;
    private static final int SPACE = 2;
    /** {@link #ALNUM} and {@link #SPACE} of the ASCII characters, as {@link Character} has them. */
    private static final byte[] ASCII_KIND = new byte[0x80];

    static {
        for (char c = 0; c < 0x80; c++) {
            ASCII_KIND[c] = (byte) slowKind(c);
        }
    }

    private static int kind(char c) {
        return c < 0x80 ? ASCII_KIND[c] : slowKind(c);
    }

    private static int slowKind(char c) {
        return (Character.isLetterOrDigit(c) ? ALNUM : 0) | (Character.isWhitespace(c) ? SPACE : 0);
    }

    /**
     * The character the features read for {@code c}: Cyrillic look-alikes as Latin letters, and a digit or one of
     * {@code @ $} next to a letter as the letter it imitates (leetspeak); anything else unchanged.
     */
    static char fold(char c, char before, char after) {
        if (c < 0x80) {
            if ((c >= '0' && c <= '9') || c == '@' || c == '$') {
                char letter = LEET[c - ' '];
                if (letter != 0 && (isLetter(before) || isLetter(after))) {
                    return letter;
                }
            }
            return c;
        }
        if (c >= 0x0400 && c <= 0x04FF) {
            int at = CYRILLIC.indexOf(c);
            if (at >= 0) {
                return LATIN.charAt(at);
            }
        }
        return c;
    }

    private static boolean isLetter(char c) {
        return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || (c >= 0x80 && Character.isLetter(c));
    }

    private static final String CYRILLIC = "аеорсухіјѕԁАЕОРСХІЈЅВНКМТ";
    private static final String LATIN = "aeopcyxijsdAEOPCXIJSBHKMT";
    private static final char[] LEET = new char[0x60];

    static {
        String from = "0123456789@$";
        String to = "oizeasgtbgas";
        for (int i = 0; i < from.length(); i++) {
            LEET[from.charAt(i) - ' '] = to.charAt(i);
        }
    }

    /** A human-readable id for a feature in evidence: its family and bucket (see the data card's feature list). */
    public static String id(int family, int bucket) {
        return FAMILY[family] + ":" + bucket;
    }

    private static final int FNV = 0x811C9DC5;
    private static final int PRIME = 0x01000193;

    private static int mix(int h, int family) {
        h ^= family * 0x27D4EB2F;
        h ^= h >>> 16;
        h *= 0x85EBCA6B;
        h ^= h >>> 13;
        h *= 0xC2B2AE35;
        h ^= h >>> 16;
        return h & 0x7FFFFFFF;
    }
}
