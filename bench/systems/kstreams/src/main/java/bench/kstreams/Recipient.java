package bench.kstreams;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.google.i18n.phonenumbers.NumberParseException;
import com.google.i18n.phonenumbers.PhoneNumberUtil;
import com.google.i18n.phonenumbers.PhoneNumberUtil.PhoneNumberFormat;
import com.google.i18n.phonenumbers.Phonenumber.PhoneNumber;
import java.io.IOException;

/**
 * The routing key of a send request, {@code "<E.164>|<account>"}, as the project's router
 * makes it (app/stream/router.py, app/stream/keys.py): {@code to} parsed with libphonenumber
 * in the project's default region (US) and kept only when valid; {@code account_id}, or
 * {@code "default"}. A send that needs no lookup gets {@code "!<reason>"} instead (the
 * project's suppress reasons: no_phone, invalid_number).
 */
final class Recipient {
    static final String DEFAULT_REGION = "US";
    static final String DEFAULT_ACCOUNT = "default";
    static final String REJECTED = "!";

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final PhoneNumberUtil PHONES = PhoneNumberUtil.getInstance();

    private Recipient() {
    }

    static String key(byte[] send) {
        JsonNode request;
        try {
            request = JSON.readTree(send);
        } catch (IOException | RuntimeException e) {
            return REJECTED + "invalid_request";
        }
        if (request == null || !request.isObject()) {
            return REJECTED + "invalid_request";
        }
        JsonNode to = request.get("to");
        if (to == null || !to.isTextual() || to.asText().isBlank()) {
            return REJECTED + "no_phone";
        }
        String e164;
        try {
            PhoneNumber number = PHONES.parse(to.asText(), DEFAULT_REGION);
            if (!PHONES.isValidNumber(number)) {
                return REJECTED + "invalid_number";
            }
            e164 = PHONES.format(number, PhoneNumberFormat.E164);
        } catch (NumberParseException e) {
            return REJECTED + "invalid_number";
        }
        JsonNode account = request.get("account_id");
        String accountId = account != null && account.isTextual() && !account.asText().isEmpty()
                ? account.asText() : DEFAULT_ACCOUNT;
        return e164 + "|" + accountId;
    }
}
