/**
 * Application settings in `SettingsService` against memory ports: defaults, the validation of every kind of value,
 * all problems reported at once, and one audit event per value that really changed. management-settings
 * (integration) shows the API around it.
 */
import assert from 'node:assert/strict';
import { beforeEach, describe, it } from 'node:test';
import { DEFAULT_SETTINGS, SETTING_KEYS, SettingsService } from '../../src/services/settings.service.js';
import { TestClock } from '../helpers/clock.js';
import { memoryPorts } from '../helpers/memory-ports.js';
import { refused } from '../helpers/refusals.js';

describe('application settings (service tier)', () => {
  let ports: ReturnType<typeof memoryPorts>;
  let settings: SettingsService;

  beforeEach(() => {
    ports = memoryPorts(new TestClock());
    settings = new SettingsService(ports.db, ports.settings, ports.db, ports.audit);
  });

  it('answers the defaults while nothing is stored, and ignores stored keys it does not know', async () => {
    await ports.settings.put(ports.db, { wharf_transfer_progress: { version: 1 } });
    const current = await settings.get();
    assert.deepEqual(current, DEFAULT_SETTINGS);
    assert.ok(Object.isFrozen(current));
  });

  it('reads the store once while nothing is written, and again after a write', async () => {
    await settings.get();
    await settings.get();
    assert.equal(ports.settings.reads, 1);
    await settings.update({ max_login_attempts: 5 });
    assert.equal((await settings.get()).max_login_attempts, 5);
    const reads = ports.settings.reads;
    await settings.get();
    assert.equal(ports.settings.reads, reads);
  });

  it('accepts the spellings a form or a GitLab script sends: booleans as strings and numbers, integers as strings', async () => {
    const updated = await settings.update({
      npm_package_requests_forwarding: 'true',
      require_personal_access_token_expiry: 0,
      throttle_authenticated_packages_api_enabled: '1',
      max_login_attempts: '25',
      helm_max_packages_count: '',
      max_personal_access_token_lifetime: '90',
      npm_package_requests_forwarding_url: 'https://registry.example.com/npm///',
    });
    assert.equal(updated.npm_package_requests_forwarding, true);
    assert.equal(updated.require_personal_access_token_expiry, false);
    assert.equal(updated.throttle_authenticated_packages_api_enabled, true);
    assert.equal(updated.max_login_attempts, 25);
    assert.equal(updated.helm_max_packages_count, null);
    assert.equal(updated.max_personal_access_token_lifetime, 90);
    assert.equal(updated.npm_package_requests_forwarding_url, 'https://registry.example.com/npm', 'trailing slashes go');
  });

  it('reports every invalid value at once, and stores none of the valid ones given with them', async () => {
    const body = await refused(
      settings.update({
        max_login_attempts: 0,
        npm_package_requests_forwarding: 'yes',
        npm_package_requests_forwarding_url: 'ftp://mirror.example.com',
        helm_chart_overwrite_policy: 'sometimes',
        max_personal_access_token_lifetime: 366,
        npm_max_file_size: -1,
        audit_events_retention_days: 1.5,
        helm_max_file_size: 1024,
      }),
      'validation_failed',
    );
    assert.deepEqual(body, {
      message: {
        max_login_attempts: ['must be an integer from 1 to 1000'],
        npm_package_requests_forwarding: ['is not a boolean'],
        npm_package_requests_forwarding_url: ['must be an absolute http(s) URL'],
        helm_chart_overwrite_policy: ['must be one of allow, require_force, deny'],
        max_personal_access_token_lifetime: ['must be an integer from 1 to 365'],
        npm_max_file_size: ['must be a positive number of bytes'],
        audit_events_retention_days: ['must be a positive integer, or null for no limit'],
      },
    });
    assert.deepEqual(ports.db.t.settings, {});
    assert.deepEqual(ports.events(), []);
  });

  it('needs at least one parameter; unknown ones count and are ignored', async () => {
    const body = await refused(settings.update({}), 'param_invalid');
    assert.equal(body.error, `${SETTING_KEYS.join(', ')} are missing, at least one parameter must be provided`);
    await refused(settings.update(null), 'param_invalid');
    await refused(settings.update(['max_login_attempts']), 'param_invalid');
    assert.deepEqual(await settings.update({ signup_enabled: false }), DEFAULT_SETTINGS);
    assert.deepEqual(ports.db.t.settings, {});
  });

  it('records one event per value that really changed, with the value before and after', async () => {
    await settings.update({ max_login_attempts: 10, helm_chart_overwrite_policy: 'deny', helm_max_packages_count: 50 });
    const events = ports.events();
    assert.deepEqual(
      events.map((e) => e.target_details),
      ['helm_max_packages_count', 'helm_chart_overwrite_policy'],
      'in the order of the settings; max_login_attempts was already 10',
    );
    assert.deepEqual(
      events.map((e) => [e.details.from, e.details.to]),
      [
        ['null', '50'],
        ['"allow"', '"deny"'],
      ],
    );
    assert.ok(events.every((e) => e.event_name === 'application_setting_updated' && e.entity_type === 'Gitlab::Audit::InstanceScope'));
  });
});
