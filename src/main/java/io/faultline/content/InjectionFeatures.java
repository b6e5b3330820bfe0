package io.faultline.content;

/**
 * The features the learned injection classifier reads: hashed word unigrams and bigrams and hashed character 3-, 4-
 * and 5-grams of the lower-cased text, where every run of characters that are not letters or digits counts as one
 * space. One pass over the text, no allocation: each feature goes to a {@link Sink} with the block (a run of
 * {@link #BLOCK} characters) it ends in, so that the model can score overlapping windows of two blocks without a
 * second pass. The trainer (test scope) uses this same class, so training and serving cannot disagree.
 */
public final class InjectionFeatures {

    /** Characters per block; a window is two adjacent blocks, so windows are 512 characters with a 256 stride. */
    public static final int BLOCK = 256;

    /** Feature families, encoded in the low bits of the unmasked hash so that evidence can name a feature's kind. */
    public static final int WORD = 0;
    public static final int BIGRAM = 1;
    public static final int CHAR3 = 2;
    public static final int CHAR4 = 3;
    public static final int CHAR5 = 4;
    private static final String[] FAMILY = {"word", "bigram", "char3", "char4", "char5"};

    /** Receives one feature occurrence: its block and its hash (a non-negative int; the model masks it). */
    @FunctionalInterface
    public interface Sink {
        void accept(int block, int family, int hash);
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
        for (int i = 0; i <= n; i++) {
            char c = i < n ? text.charAt(i) : ' ';
            boolean alnum = Character.isLetterOrDigit(c);
            int block = Math.min(i, n - 1) / BLOCK;
            if (alnum) {
                c = Character.toLowerCase(c);
                word = (word ^ c) * PRIME;
                wordLength++;
            } else {
                if (wordLength > 0) {
                    int w = mix(word, WORD);
                    sink.accept(block, WORD, w);
                    if (havePrevious) {
                        sink.accept(block, BIGRAM, mix(previousWord * 31 + w, BIGRAM));
                    }
                    previousWord = w;
                    havePrevious = true;
                }
                word = FNV;
                wordLength = 0;
                if (lastSpace || i == n) {
                    continue; // a run of separators is one space
                }
                c = ' ';
            }
            lastSpace = c == ' ';
            seen++;
            // char n-grams ending here: c with the 2, 3 or 4 characters before it
            int h = (int) ((c * 0x9E3779B1L) >>> 7);
            for (int k = 1; k <= 4 && k < seen; k++) {
                char before = (char) (recent >>> (16 * (k - 1)));
                h = (h ^ before) * PRIME;
                if (k >= 2) {
                    int family = k == 2 ? CHAR3 : k == 3 ? CHAR4 : CHAR5;
                    sink.accept(block, family, mix(h, family));
                }
            }
            recent = (recent << 16) | c;
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
