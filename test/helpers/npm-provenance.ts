/**
 * Provenance bundles made in memory, shaped as npm's `npm publish --provenance` sends them (libnpmpublish
 * `provenance.js` + sigstore's `attest`): a sigstore bundle v0.3 whose DSSE envelope carries an in-toto statement
 * with a SLSA predicate. The signatures and certificate are random bytes: Wharf checks the bundle's shape, subject and
 * digest, not its signer (docs/design/npm-provenance.md).
 */
import { createHash, randomBytes } from 'node:crypto';

export const SLSA_V1 = 'https://slsa.dev/provenance/v1';
export const SLSA_V02 = 'https://slsa.dev/provenance/v0.2';

export interface BundleOptions {
  /** The subject name (default: npm's purl of name@version). */
  subjectName?: string;
  /** The subject's sha512 hex (default: the tarball's). */
  sha512?: string;
  /** `github` (SLSA v1, as from GitHub Actions) or `gitlab` (SLSA v0.2, as from GitLab CI). */
  ci?: 'github' | 'gitlab';
  /** Replaces the predicate. */
  predicate?: unknown;
  /** Pads the certificate to make a bundle of about this many bytes. */
  padTo?: number;
}

export const purlOf = (name: string, version: string): string => `pkg:npm/${name.replace(/^@/, '%40')}@${version}`;

export function statementFor(name: string, version: string, tgz: Buffer, opts: BundleOptions = {}): Record<string, unknown> {
  const subject = [{ name: opts.subjectName ?? purlOf(name, version), digest: { sha512: opts.sha512 ?? createHash('sha512').update(tgz).digest('hex') } }];
  if (opts.ci === 'gitlab') {
    return {
      _type: 'https://in-toto.io/Statement/v0.1',
      subject,
      predicateType: SLSA_V02,
      predicate: opts.predicate ?? {
        buildType: 'https://github.com/npm/cli/gitlab/v0alpha1',
        builder: { id: 'https://gitlab.example.com/acme/widget/-/runners/7' },
        invocation: {
          configSource: { uri: 'git+https://gitlab.example.com/acme/widget', digest: { sha1: 'a'.repeat(40) }, entryPoint: 'publish' },
          parameters: {
            CI_PROJECT_URL: 'https://gitlab.example.com/acme/widget',
            CI_JOB_URL: 'https://gitlab.example.com/acme/widget/-/jobs/4242',
            CI_PIPELINE_URL: 'https://gitlab.example.com/acme/widget/-/pipelines/99',
          },
        },
        metadata: { buildInvocationId: 'https://gitlab.example.com/acme/widget/-/jobs/4242', completeness: { parameters: true, environment: true, materials: false }, reproducible: false },
        materials: [{ uri: 'git+https://gitlab.example.com/acme/widget', digest: { sha1: 'a'.repeat(40) } }],
      },
    };
  }
  return {
    _type: 'https://in-toto.io/Statement/v1',
    subject,
    predicateType: SLSA_V1,
    predicate: opts.predicate ?? {
      buildDefinition: {
        buildType: 'https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1',
        externalParameters: { workflow: { ref: 'refs/heads/main', repository: 'https://github.com/acme/widget', path: '.github/workflows/release.yml' } },
        internalParameters: { github: { event_name: 'push', repository_id: '1', repository_owner_id: '2' } },
        resolvedDependencies: [{ uri: 'git+https://github.com/acme/widget@refs/heads/main', digest: { gitCommit: 'b'.repeat(40) } }],
      },
      runDetails: {
        builder: { id: 'https://github.com/actions/runner/github-hosted' },
        metadata: { invocationId: 'https://github.com/acme/widget/actions/runs/123/attempts/1' },
      },
    },
  };
}

/** A sigstore bundle (v0.3, keyless) around `statement`, as sigstore-js serialises one. */
export function bundleAround(statement: unknown, padTo = 0): Record<string, unknown> {
  const certificate = randomBytes(Math.max(700, Math.ceil((padTo * 3) / 4))).toString('base64');
  return {
    mediaType: 'application/vnd.dev.sigstore.bundle.v0.3+json',
    verificationMaterial: {
      certificate: { rawBytes: certificate },
      tlogEntries: [
        {
          logIndex: '123456',
          logId: { keyId: randomBytes(32).toString('base64') },
          kindVersion: { kind: 'dsse', version: '0.0.1' },
          integratedTime: '1765000000',
          inclusionPromise: { signedEntryTimestamp: randomBytes(70).toString('base64') },
          inclusionProof: { logIndex: '1234', rootHash: randomBytes(32).toString('base64'), treeSize: '5000', hashes: [randomBytes(32).toString('base64')], checkpoint: { envelope: 'rekor.sigstore.dev - 1\n5000\n\n' } },
          canonicalizedBody: randomBytes(200).toString('base64'),
        },
      ],
    },
    dsseEnvelope: {
      payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
      payloadType: 'application/vnd.in-toto+json',
      signatures: [{ sig: randomBytes(71).toString('base64'), keyid: '' }],
    },
  };
}

/** The bundle npm would attach to a publish of `name@version` with this tarball, as JSON text. */
export function provenanceText(name: string, version: string, tgz: Buffer, opts: BundleOptions = {}): string {
  return JSON.stringify(bundleAround(statementFor(name, version, tgz, opts), opts.padTo));
}

/** Adds the attachment to a publish body exactly as libnpmpublish does (`data` is the JSON text, not Base64). */
export function withProvenance(body: Record<string, any>, name: string, version: string, text: string): Record<string, any> {
  const mediaType = (() => {
    try {
      return String((JSON.parse(text) as { mediaType?: unknown }).mediaType);
    } catch {
      return 'application/vnd.dev.sigstore.bundle.v0.3+json';
    }
  })();
  body._attachments[`${name}-${version}.sigstore`] = { content_type: mediaType, data: text, length: text.length };
  return body;
}
