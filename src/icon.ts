import { LabIcon } from '@jupyterlab/ui-components';

import raydataSvg from '../style/icons/raydata.svg';

/** The Raydata sidebar icon: concentric scattering rings around a direct beam. */
export const raydataIcon = new LabIcon({
  name: 'jupyterlab-raydata:raydata',
  svgstr: raydataSvg
});
