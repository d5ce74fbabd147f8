import { describe, it } from 'node:test';
import { applicationDecider } from '../../../src/domain/applications/decider.js';
import { specification } from '../../support/decider-spec.js';

const spec = specification(applicationDecider);
const registered = {
  type: 'ApplicationRegistered' as const,
  data: { applicationId: 1000, name: 'Portal', description: '', registeredBy: 1 },
};

describe('application decider', () => {
  it('registers an integrator id', () => {
    spec
      .given([])
      .when({ type: 'RegisterApplication', applicationId: 1000, name: 'Portal', description: '', by: 1 })
      .thenEmits([registered]);
  });
  it('refuses ids below 1000', () => {
    spec
      .given([])
      .when({ type: 'RegisterApplication', applicationId: 999, name: 'x', description: '', by: 1 })
      .thenThrows('application-id-reserved');
  });
  it('refuses registering twice', () => {
    spec
      .given([registered])
      .when({ type: 'RegisterApplication', applicationId: 1000, name: 'again', description: '', by: 1 })
      .thenThrows('application-exists');
  });
  it('disables, and records nothing when already so', () => {
    const disabled = {
      type: 'ApplicationEnabledChanged' as const,
      data: { applicationId: 1000, enabled: false, changedBy: 1 },
    };
    spec
      .given([registered])
      .when({ type: 'SetApplicationEnabled', applicationId: 1000, enabled: false, by: 1 })
      .thenEmits([disabled]);
    spec
      .given([registered, disabled])
      .when({ type: 'SetApplicationEnabled', applicationId: 1000, enabled: false, by: 1 })
      .thenNothing();
    spec
      .given([registered])
      .when({ type: 'SetApplicationEnabled', applicationId: 1000, enabled: true, by: 1 })
      .thenNothing();
  });
  it('cannot change an unregistered application', () => {
    spec
      .given([])
      .when({ type: 'SetApplicationEnabled', applicationId: 1001, enabled: false, by: 1 })
      .thenThrows('application-unknown');
  });
});
