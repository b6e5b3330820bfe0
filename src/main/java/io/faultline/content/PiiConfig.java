package io.faultline.content;

import com.google.i18n.phonenumbers.PhoneNumberUtil.Leniency;
import io.faultline.taxonomy.Severity;
import io.smallrye.config.ConfigMapping;
import io.smallrye.config.WithDefault;
import jakarta.validation.constraints.DecimalMin;
import jakarta.validation.constraints.Min;

import java.util.List;
import java.util.Set;

/**
 * Thresholds of {@code pii_leakage} detection ({@link PiiScanner}, {@link PiiRules}). The whole type is switched off
 * with {@code faultline.content.disabled-types=pii_leakage}; single kinds with {@link #kinds()}.
 */
@ConfigMapping(prefix = "faultline.pii")
public interface PiiConfig {

    /** Kinds of personal data and secrets looked for; remove one to stop detecting it (e.g. {@code IP}). */
    @WithDefault("EMAIL,PHONE,CARD,IBAN,US_SSN,IP,SECRET")
    Set<PiiScanner.Kind> kinds();

    /**
     * Regions (ISO 3166 alpha-2) a phone number written without a country code is tried against, in order. A
     * number with {@code +} or {@code 00} is read in its own country whatever this says. Every region added widens
     * recall on national formats and adds cost and false positives on other numbers.
     */
    @WithDefault("US,GB,DE,FR,IT,ES,NL,BE,CH,AT,SE,FI,HU,PL,BR,AU,IN")
    List<String> phoneRegions();

    /**
     * libphonenumber's leniency for a number that stands bare, without a cue word. {@code EXACT_GROUPING}: the
     * number must be valid in a region and written in that region's own digit grouping. Looser settings
     * ({@code VALID}, {@code STRICT_GROUPING}) also take street numbers, licence numbers and ids that happen to be
     * valid somewhere among the {@link #phoneRegions()}; the eval report shows the difference.
     */
    @WithDefault("EXACT_GROUPING")
    Leniency phoneLeniency();

    /**
     * Leniency for a number announced as one: a cue word ({@code phone}, {@code tel}, {@code mobile}, {@code fax},
     * {@code call}, {@code contact}, {@code office} …) within {@link #phoneCueChars()} before it or just after it.
     * {@code POSSIBLE} then accepts any number of a plausible length for a region, which national formats written
     * without a country code need; the cue is what keeps street numbers and ids out.
     */
    @WithDefault("POSSIBLE")
    Leniency phoneContextLeniency();

    /** How far before a number (characters) a cue word counts for {@link #phoneContextLeniency()}. */
    @WithDefault("32")
    @Min(0)
    int phoneCueChars();

    /** libphonenumber's {@code maxTries} per candidate: a bound on its work over one piece of text. */
    @WithDefault("8")
    @Min(1)
    long phoneMaxTries();

    /**
     * Phone candidates validated per text, at most. Each costs libphonenumber a parse per region (about 10 µs), so
     * an answer that is a table of numbers would otherwise cost milliseconds; candidates past the bound are not
     * validated, and the evidence says {@code truncated}.
     */
    @WithDefault("12")
    @Min(1)
    int phoneMaxCandidates();

    /**
     * libphonenumber searches ({@code findNumbers}, one per candidate and region where the candidate's digits parse
     * as a possible or valid number) per text, at most. A search costs 0.1-1 ms, a hundred times a parse; text
     * built of phone-like digit runs would otherwise spend milliseconds on them. A number in prose takes one or two,
     * a bare national number valid in many regions up to one per region. On the 1,500 labelled rows of the PII eval
     * (findings compared row by row with the former default of 24, which no row ran out of): 8 or more change no finding, 12 cuts one row short
     * (same findings, marked truncated), 6 changes one row, 4 two. 12 keeps the worst case of a text at about a
     * millisecond of searches. A scan that runs out stops and says so in the evidence ({@code truncated}).
     */
    @WithDefault("12")
    @Min(1)
    int phoneMaxSearches();

    /** Shortest token (characters) considered as an unprefixed secret by its entropy alone. */
    @WithDefault("32")
    @Min(1)
    int secretMinLength();

    /**
     * Shannon entropy (bits per character) above which an unprefixed token of mixed letters and digits counts as a
     * secret. Pure hex (hashes, UUIDs, commit ids) cannot exceed 4.0, English identifiers stay below about 3.9;
     * random base62 tokens of 32+ characters measure about 4.5 to 5.
     */
    @WithDefault("4.3")
    @DecimalMin("0")
    double secretMinEntropy();

    /** Whether private, loopback and link-local addresses (10.x, 127.x, 192.168.x, fe80::) count as PII. */
    @WithDefault("false")
    boolean privateIps();

    /**
     * Characters of each text scanned (answer, and the request when the answer holds PII). Keeps the cost per call
     * bounded on the ingest path; the evidence says when a text was cut.
     */
    @WithDefault("16384")
    @Min(1)
    int maxScanChars();

    /**
     * Candidates validated per text (each costs a validator call: e-mail, Luhn, IBAN, IP, or a secret's entropy).
     * With {@link #maxFindings()} it bounds a scan of text built to hold thousands of look-alikes; a scan that stops
     * early says so in the evidence ({@code truncated}). Prose holds a handful.
     */
    @WithDefault("256")
    @Min(1)
    int maxCandidates();

    /** Findings kept per text; the scan stops at this many (the evidence says {@code truncated}). */
    @WithDefault("50")
    @Min(1)
    int maxFindings();

    /** Severity of PII the model produced, i.e. that the request did not contain. */
    @WithDefault("P2")
    Severity producedSeverity();

    /** Severity of a secret (API key, token, private key) the model produced: a credential out in the open. */
    @WithDefault("P1")
    Severity producedSecretSeverity();

    /** Severity of PII the answer merely repeats from the request: the user's own data, shown back to them. */
    @WithDefault("P4")
    Severity echoedSeverity();

    /** Masked samples kept in the evidence, at most. */
    @WithDefault("5")
    @Min(0)
    int maxSamples();
}
