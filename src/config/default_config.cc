// The built-in demo configuration. deploy/config/merchants.yaml is the same configuration
// as a file; config_test keeps the two equal.
#include "config/config.h"

namespace payorch::config {

namespace {

using ::payments::config::v1::MerchantConfig;
using ::payments::config::v1::RoutingProfile;
using ::payments::plan::v1::StepRole;
using ::payments::types::v1::PaymentMethod;

using ::payments::plan::v1::STEP_ROLE_FALLBACK;
using ::payments::plan::v1::STEP_ROLE_PRIMARY;
using ::payments::plan::v1::STEP_ROLE_SPLIT;
using ::payments::types::v1::PAYMENT_METHOD_APPLE_PAY;
using ::payments::types::v1::PAYMENT_METHOD_CARD;

RoutingProfile* AddProfile(MerchantConfig* m, const char* name, PaymentMethod method) {
  RoutingProfile* p = m->add_profiles();
  p->set_name(name);
  p->set_method(method);
  return p;
}

void AddStep(RoutingProfile* p, PaymentMethod method, const char* processor, int64_t max_minor,
             StepRole role) {
  auto* s = p->add_steps();
  s->set_method(method);
  s->set_processor_id(processor);
  s->set_max_amount_minor(max_minor);
  s->set_role(role);
}

}  // namespace

::payments::config::v1::OrchestratorConfig DefaultConfig() {
  ::payments::config::v1::OrchestratorConfig config;
  config.set_schema_version(kConfigSchemaVersion);

  // Co-branded card first, Stripe takes over if it fails.
  MerchantConfig* cobranded = config.add_merchants();
  cobranded->set_merchant_id("m_cobranded");
  cobranded->set_max_retries_per_step(2);
  cobranded->set_attempt_timeout_ms(2'000);
  cobranded->set_processing_deadline_ms(30'000);
  cobranded->set_deadline_policy(::payments::config::v1::DEADLINE_POLICY_FAIL);
  RoutingProfile* card = AddProfile(cobranded, "card", PAYMENT_METHOD_CARD);
  AddStep(card, PAYMENT_METHOD_CARD, "cobranded_card", 10'000, STEP_ROLE_PRIMARY);
  AddStep(card, PAYMENT_METHOD_CARD, "stripe", 10'000, STEP_ROLE_FALLBACK);

  // Apple Pay up to 50.00, the remainder split onto a card at Adyen.
  MerchantConfig* wallet = config.add_merchants();
  wallet->set_merchant_id("m_wallet");
  RoutingProfile* apple = AddProfile(wallet, "apple_pay", PAYMENT_METHOD_APPLE_PAY);
  AddStep(apple, PAYMENT_METHOD_APPLE_PAY, "applepay", 5'000, STEP_ROLE_PRIMARY);
  AddStep(apple, PAYMENT_METHOD_CARD, "adyen", 0, STEP_ROLE_SPLIT);
  RoutingProfile* wallet_card = AddProfile(wallet, "card", PAYMENT_METHOD_CARD);
  AddStep(wallet_card, PAYMENT_METHOD_CARD, "adyen", 0, STEP_ROLE_PRIMARY);
  AddStep(wallet_card, PAYMENT_METHOD_CARD, "stripe", 0, STEP_ROLE_FALLBACK);

  // An unreliable processor with Stripe behind it: the retry and fallback demo.
  MerchantConfig* flaky = config.add_merchants();
  flaky->set_merchant_id("m_flaky");
  flaky->set_max_retries_per_step(2);
  RoutingProfile* flaky_card = AddProfile(flaky, "card", PAYMENT_METHOD_CARD);
  AddStep(flaky_card, PAYMENT_METHOD_CARD, "flaky_psp", 0, STEP_ROLE_PRIMARY);
  AddStep(flaky_card, PAYMENT_METHOD_CARD, "stripe", 0, STEP_ROLE_FALLBACK);

  // Zero- and three-decimal currencies only (JPY has no minor unit, KWD has 1000 fils).
  MerchantConfig* jpy = config.add_merchants();
  jpy->set_merchant_id("m_jpy");
  jpy->add_currencies("JPY");
  jpy->add_currencies("KWD");
  jpy->set_max_amount_minor(5'000'000);
  AddStep(AddProfile(jpy, "card", PAYMENT_METHOD_CARD), PAYMENT_METHOD_CARD, "stripe", 0,
          STEP_ROLE_PRIMARY);

  return config;
}

}  // namespace payorch::config
