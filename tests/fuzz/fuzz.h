/*
 * fuzz.h: what the fuzz harnesses share.
 *
 * Each harness defines LLVMFuzzerTestOneInput. Built with clang and
 * -fsanitize=fuzzer it is a libFuzzer target; otherwise driver.c supplies a
 * main() that replays the seed corpus and then mutates it at random for a
 * fixed number of runs, so the harnesses also run under gcc's ASan/UBSan.
 */
#ifndef A17_FUZZ_H
#define A17_FUZZ_H

#include <stddef.h>
#include <stdint.h>

#include "art17.pb-c.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Every wire message type (payloads of Body, and the Body itself). */
static const ProtobufCMessageDescriptor *const fuzz_wire_msgs[] = {
    &art17__envelope__descriptor,
    &art17__header__descriptor,
    &art17__body__descriptor,
    &art17__marking_revision__descriptor,
    &art17__ack__descriptor,
    &art17__hello_req__descriptor,
    &art17__challenge__descriptor,
    &art17__hello__descriptor,
    &art17__welcome__descriptor,
    &art17__poll__descriptor,
    &art17__copy__descriptor,
    &art17__deliver__descriptor,
    &art17__receipt_item__descriptor,
    &art17__receipt_batch__descriptor,
    &art17__receipt_ok__descriptor,
    &art17__feedback_ok__descriptor,
    &art17__error__descriptor,
    &art17__ground__descriptor,
    &art17__marking__descriptor,
    &art17__sealed__descriptor,
    &art17__wrapped_key__descriptor,
    &art17__request__descriptor,
    &art17__copy_info__descriptor,
    &art17__accept__descriptor,
    &art17__reminder__descriptor,
    &art17__read_receipt__descriptor,
    &art17__consent_change__descriptor,
    &art17__indicator__descriptor,
    &art17__feedback__descriptor,
    &art17__consultation__descriptor,
    &art17__admin_request__descriptor,
    &art17__consult_share__descriptor,
    &art17__staff_entry__descriptor,
    &art17__staff_change_set__descriptor,
    &art17__consent_query__descriptor,
    &art17__incident_declare__descriptor,
    &art17__flag_change__descriptor,
    &art17__incident_query__descriptor,
    &art17__audit_query__descriptor,
    &art17__member_query__descriptor,
    &art17__issue_request__descriptor,
    &art17__status_query__descriptor,
    &art17__copy_status__descriptor,
    &art17__issue_result__descriptor,
    &art17__admin_reply__descriptor,
};

/* Every record the broker and the agent keep in LMDB. */
static const ProtobufCMessageDescriptor *const fuzz_records[] = {
    &art17__consult_record__descriptor,  &art17__feedback_entry__descriptor,
    &art17__consent_record__descriptor,  &art17__flag_state__descriptor,
    &art17__incident_record__descriptor, &art17__audit_record__descriptor,
    &art17__staff_record__descriptor,    &art17__member_record__descriptor,
    &art17__request_record__descriptor,  &art17__delivery_record__descriptor,
    &art17__inbox_record__descriptor,    &art17__outbox_record__descriptor,
    &art17__feedback__descriptor, /* the broker's feedback db */
};

#define FUZZ_NELEM(a) (sizeof(a) / sizeof((a)[0]))

/*
 * Unpacks data as desc; when it decodes, packs it again and checks that the
 * packed length is what get_packed_size promised (abort otherwise: a
 * finding), then decodes the result again.
 */
void fuzz_roundtrip(const ProtobufCMessageDescriptor *desc, const uint8_t *data,
                    size_t size);

#endif
